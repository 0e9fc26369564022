# Production WSGI server settings shared by every Procfile process.
# Threads keep connections alive (a sync worker closes each one) and let one
# process wait on several upstream calls at once. The gateway, which faces the
# clients, runs gevent instead (Procfile): there a slow client holds a greenlet,
# where with gthread 16 of them held every thread; and it costs less CPU.
worker_class = "gthread"
import os

# WEB_CONCURRENCY is gunicorn's own convention for the number of worker processes.
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = 8
keepalive = 30
timeout = 60
graceful_timeout = 5
accesslog = "-"
logger_class = "microblog.serving.AccessLog"  # one fixed line, at a fraction of the CPU
# gunicorn_h1c's C parser (picohttpparser) reads requests instead of gunicorn's
# pure-Python one: a third less CPU spent parsing each request.
http_parser = "fast"


def post_worker_init(worker):
    from microblog import serving
    serving.install_json_errors()

# Many gunicorn processes run side by side: none claims the shared control socket.
control_socket_disable = True
