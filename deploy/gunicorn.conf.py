"""gunicorn behind nginx (deploy/nginx.conf), started by deploy/run.

nginx buffers every request and answer, so a worker thread is only busy while the app works;
it never waits on a slow client. Every value can be overridden by an environment variable.
"""

import gc
import os
import sys

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
# At most this many connections per worker: its threads' and as many waiting in keep-alive.
# nginx keeps a pool of connections open to gunicorn (deploy/nginx.conf, keepalive 16); a
# worker accepts every connection it is offered, so without a cap one worker can take the
# whole pool while the others idle, and serve it on one core (its GIL). A worker at its cap
# stops accepting: the next connection waits in the listen queue for a worker with room.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 2 * threads))

timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))  # a stuck worker is restarted
graceful_timeout = 20  # on Ctrl-C or SIGTERM, requests under way may finish
keepalive = 75  # longer than nginx's upstream keepalive_timeout: nginx closes first

# X-Forwarded-Proto from nginx (local) decides wsgi.url_scheme; the app's ProxyFix
# (REGISTRY_TRUSTED_PROXIES=1) reads X-Forwarded-For/-Proto/-Host as well.
forwarded_allow_ips = "127.0.0.1"

max_requests = 5000  # recycle workers now and then; jitter so they do not all go at once
max_requests_jitter = 500

# The app is loaded once, in the master, and each worker is a fork of it: a recycled worker
# serves again within milliseconds instead of importing the app anew (about a second of
# CPU, while the connections it dropped wait for it: see worker_connections). New code
# therefore needs a restart of deploy/run, not a HUP (which forks the same app again).
preload_app = True
# Loading the app allocates objects that all stay: the cyclic garbage collector, run ~1,000
# times meanwhile, would find nothing to free (~0.1 s of the master's start). Off while the
# master loads it (gunicorn reads this file just before; a test reading the settings is not
# gunicorn), on again once it is loaded, in when_ready.
if os.path.basename(sys.argv[0]) == "gunicorn":
    gc.disable()


def when_ready(server):
    """Before the first fork: the master keeps no database connection of its own (made while
    loading the app), so that no worker inherits a socket another process also uses. What
    loading the app left is frozen: no collection walks it again, in the master or in any
    worker forked from it (nor writes to its pages, which the workers share until then)."""
    engine = server.app.wsgi().extensions.get("registry.engine")
    if engine is not None:
        engine.dispose()
    gc.freeze()
    gc.enable()

accesslog = None  # nginx logs every request
errorlog = "-"
