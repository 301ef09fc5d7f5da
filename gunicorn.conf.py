"""gunicorn settings: `gunicorn wsgi:app` reads this file from the working directory."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# %(U)s is the path without its query string: session tokens (?t=) never reach the log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss rid=%({x-request-id}o)s'
