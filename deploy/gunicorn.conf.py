"""gunicorn behind nginx (deploy/nginx.conf), started by deploy/run.

nginx buffers every request and answer, so a worker thread is only busy while the app works;
it never waits on a slow client. Every value can be overridden by an environment variable.
"""

import os

# Only nginx talks to gunicorn: a unix socket in the run directory (or 127.0.0.1:PORT).
bind = [os.environ.get("GUNICORN_BIND", "unix:instance/run/gunicorn.sock")]
umask = 0o007  # the socket: for this user and its group (nginx's workers, see deploy/run)
# gunicorn >= 25 listens for `gunicornc` on a control socket: keep it with this instance.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "instance/run/gunicorn.ctl")

# Threads rather than many processes: requests spend much of their time waiting on the
# database. Keep workers x threads <= the pool (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW
# per worker) so a thread never waits for a connection.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1)))
threads = int(os.environ.get("GUNICORN_THREADS", 4))

timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))  # a stuck worker is restarted
graceful_timeout = 20  # on Ctrl-C or SIGTERM, requests under way may finish
keepalive = 75  # longer than nginx's upstream keepalive_timeout: nginx closes first

# X-Forwarded-Proto from nginx (local) decides wsgi.url_scheme; the app's ProxyFix
# (REGISTRY_TRUSTED_PROXIES=1) reads X-Forwarded-For/-Proto/-Host as well.
forwarded_allow_ips = "127.0.0.1"

max_requests = 5000  # recycle workers now and then; jitter so they do not all go at once
max_requests_jitter = 500

accesslog = None  # nginx logs every request
errorlog = "-"
