"""`make demo`: migrate, seed demo users and projects, run web server + Celery worker together."""

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from curation.models import Job
from curation.services.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo

ROOT = Path(settings.BASE_DIR)


def serving_env(host: str, data_dir: Path) -> dict:
    """The demo's web server and worker run as a deployment does (DEBUG off: the app's own
    403/404/500 pages, never Django's debug page), over plain HTTP on this machine.

    The secret key is made once per data directory and kept there (0600), so logins last
    across restarts. ``manage.py demo`` itself (migrate, seed) runs with DEBUG on."""
    key_file = data_dir / "demo-secret-key"
    if not key_file.is_file():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return {
        "DEBUG": "0",
        "SECRET_KEY": key_file.read_text().strip(),
        "ALLOWED_HOSTS": ",".join(dict.fromkeys([host, "127.0.0.1", "localhost"])),
        # No TLS on 127.0.0.1: no redirect to https, cookies over http, no HSTS.
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
    }


class Command(BaseCommand):
    help = "Run the product on its embedded default with demo data (web server + Celery worker)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--setup-only", action="store_true", help="Seed and exit without serving.")
        parser.add_argument("--no-teacher", action="store_true", help="Skip building the demo teacher and generation.")

    def handle(self, port, host, setup_only, no_teacher, **options):
        started = time.monotonic()
        self.stdout.write("Preparing the database…")
        call_command("migrate", verbosity=0)
        seed_demo(log=self.stdout.write, with_teacher=not no_teacher)
        if setup_only:
            self.stdout.write(f"Demo data ready in {time.monotonic() - started:.0f} s.")
            return
        procs = self._start(host, port)
        url = f"http://{host}:{port}/"
        self._wait_until_up(url + "healthz", procs)
        self._ready(url, started, with_teacher=not no_teacher)
        self._supervise(procs)

    def _ready(self, url, started, with_teacher):
        """One block the eye finds: where to go, who to log in as, what runs, and any missed target."""
        rule = "=" * 72
        lines = [rule, f"Ready in {time.monotonic() - started:.0f} s: open {url}", ""]
        lines += [f"  {role:<9} {username} / {DEMO_PASSWORD}" for username, role in DEMO_USERS]
        running = Job.objects.filter(kind=Job.Kind.GENERATE, status__in=Job.ACTIVE).select_related("project")
        for job in running:
            lines.append(
                f"  The teacher is answering {job.project.name}'s prompts: {url}p/{job.project.slug}/jobs/{job.pk}/"
            )
        lines += ["", f"  Logs: {self.logs['worker']} (worker), {self.logs['web']} (web server)"]
        lines += ["  Ctrl-C stops the web server and the worker.", rule]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
        warning = self._teacher_warning() if with_teacher else None
        if warning:
            self.stdout.write(self.style.ERROR(f"{'!' * 72}\nWARNING: {warning}\n{'!' * 72}"))

    def _teacher_warning(self):
        from curation.services.demo import demo_dir
        from workers.demo.teacher import missed_target_message, read_info

        info = read_info(demo_dir() / "teacher")
        if info and not info.get("meets_target", True):
            return missed_target_message(info)
        return None

    def _start(self, host, port):
        """The worker and the web server, their start-up banners and request lines in log files."""
        env = {**os.environ, **serving_env(host, Path(settings.DATA_DIR)), "PYTHONUNBUFFERED": "1"}
        log_dir = Path(settings.DATA_DIR) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.logs = {"worker": log_dir / "worker.log", "web": log_dir / "web.log"}
        worker_log = open(self.logs["worker"], "a")
        web_log = open(self.logs["web"], "a")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webapp",
                "worker",
                "-Q",
                "gpu,default",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "-n",
                "demo@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
        web = subprocess.Popen(
            # --insecure: runserver serves the static files itself with DEBUG off.
            [sys.executable, "manage.py", "runserver", f"{host}:{port}", "--noreload", "--insecure"],
            cwd=ROOT,
            env=env,
            stdout=web_log,
            stderr=subprocess.STDOUT,
        )
        return {"web": web, "worker": worker}

    def _wait_until_up(self, url, procs, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self._stop(procs)
                    raise SystemExit(f"The {name} process exited (code {proc.returncode}); see {self.logs[name]}.")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self._stop(procs)
        raise SystemExit(f"The web server did not answer at {url} within {timeout} s.")

    def _supervise(self, procs):
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        try:
            while all(p.poll() is None for p in procs.values()):
                time.sleep(1)
            dead = [n for n, p in procs.items() if p.poll() is not None]
            logs = ", ".join(str(self.logs[n]) for n in dead)
            self.stderr.write(f"The {', '.join(dead)} process stopped; shutting down (see {logs}).")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            self._stop(procs)

    def _stop(self, procs):
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
