"""`make demo`: migrate, seed demo users and projects, run web server + Celery worker together."""

import os
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
        self.stdout.write(self.style.SUCCESS(f"\nReady in {time.monotonic() - started:.0f} s: open {url}"))
        for username, role in DEMO_USERS:
            self.stdout.write(f"  {role:<9} {username} / {DEMO_PASSWORD}")
        running = Job.objects.filter(kind=Job.Kind.GENERATE, status__in=Job.ACTIVE).select_related("project")
        for job in running:
            self.stdout.write(
                f"  The teacher is answering {job.project.name}'s prompts: {url}p/{job.project.slug}/jobs/{job.pk}/"
            )
        self.stdout.write("  (Ctrl-C stops the web server and the worker.)\n")
        self._supervise(procs)

    def _start(self, host, port):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
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
        )
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
        )
        return {"web": web, "worker": worker}

    def _wait_until_up(self, url, procs, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self._stop(procs)
                    raise SystemExit(f"The {name} process exited (code {proc.returncode}); see its output above.")
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
            self.stderr.write(f"The {', '.join(dead)} process stopped; shutting down.")
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
