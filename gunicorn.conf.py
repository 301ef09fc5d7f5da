"""gunicorn settings: `gunicorn wsgi:app` reads this file from the working directory."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
# The proxy's addresses (or networks): only from them are X-Forwarded-* believed, by gunicorn
# (the scheme) and by the app (lti_tool.proxy: the client address). Never `*` when the port
# can be reached without the proxy.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"
# %(U)s is the path without its query string: session tokens (?t=) never reach the log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss rid=%({x-request-id}o)s'


def post_worker_init(worker: object) -> None:
    """Import, once the worker has started, what the app leaves out of its start-up for the sake
    of `flask` commands (pylti1p3, jwt, requests): a user's first launch in this worker then
    does not wait for them (about 0.2 s). Pages no longer load the LMS clients (they queue runs
    through lti_tool.jobs.queue)."""
    from importlib import import_module

    for module in ("launch.registration", "launch.validation"):
        import_module("lti_tool." + module)
