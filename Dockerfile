# lti_tool: one image, two commands (web: gunicorn; scheduler: flask scheduler run).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    FLASK_APP=lti_tool \
    LTI_TOOL_CONFIG=production \
    LTI_TOOL_INSTANCE_PATH=/var/lib/lti_tool

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY wsgi.py gunicorn.conf.py ./
COPY lti_tool ./lti_tool
COPY scripts/docker-entrypoint ./scripts/docker-entrypoint
# Bytecode made once here: with PYTHONDONTWRITEBYTECODE every worker and every `flask` command
# would otherwise compile the application from source at start (about 0.1 s, measured).
RUN python -m compileall -q wsgi.py gunicorn.conf.py lti_tool

RUN useradd --system --uid 10001 --home-dir /app lti \
    && mkdir -p /var/lib/lti_tool && chown lti /var/lib/lti_tool
USER lti

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"

ENTRYPOINT ["scripts/docker-entrypoint"]
CMD ["gunicorn", "wsgi:app"]
