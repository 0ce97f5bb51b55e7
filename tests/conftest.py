import os

import pytest

from tests.realworker import real_worker  # noqa: F401  (real Celery worker tests)
from tests.tinymodels import build_tiny_model


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Test users need passwords, not 1,000,000 PBKDF2 rounds each (seconds per test on 2 cores)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def artifact_dir(tmp_path, settings):
    """Each test writes shards, snapshot files and models into its own ARTIFACT_DIR."""
    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    settings.ARTIFACT_DIR.mkdir(exist_ok=True)
    return settings.ARTIFACT_DIR


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny GPT-2-style teacher (and tokenizer) saved with save_pretrained."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_student_dir(tmp_path_factory):
    """A smaller student sharing ``tiny_model_dir``'s tokenizer (same corpus, same vocab)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-student"), n_layer=1, n_embd=32, seed=1)


def require_service(env_name):
    """The URL of a real service for this test; skip locally when unset, fail in CI."""
    url = os.environ.get(env_name)
    if not url:
        if os.environ.get("CI_REQUIRE_SERVICES"):
            pytest.fail(f"{env_name} must be set in CI")
        pytest.skip(f"{env_name} is not set")
    return url


@pytest.fixture
def project(db):
    from tests.factories import ProjectFactory

    return ProjectFactory()


@pytest.fixture
def member(db, project):
    """member(role) -> a user with that role in ``project`` (password 'pw')."""
    from tests.factories import MembershipFactory, UserFactory

    def make(role, username=None):
        user = UserFactory(username=username or f"{role}-{project.slug}")
        MembershipFactory(user=user, project=project, role=role)
        return user

    return make


@pytest.fixture
def client_as(client, member):
    """client_as(role) -> the test client logged in as a member with that role ('outsider': no membership)."""
    from tests.factories import UserFactory

    def login(role):
        user = UserFactory(username="outsider") if role == "outsider" else member(role)
        client.force_login(user)
        return client

    return login


# Fixtures that start a Celery worker process: such a test belongs to the slow tier.
WORKER_FIXTURES = {"worker_process", "real_worker"}


def pytest_collection_modifyitems(config, items):
    config.worker_process_tests = any(WORKER_FIXTURES & set(getattr(item, "fixturenames", ())) for item in items)
    for item in items:
        if WORKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            # One at a time under xdist (--dist loadgroup): two worker process trees loading models
            # at once on 2 cores starved a restarted worker past its test's timeout.
            item.add_marker(pytest.mark.xdist_group("real_worker"))
    unmarked = [item.nodeid for item in items if _tier_problem(item)]
    if unmarked:
        raise pytest.UsageError(
            "these tests start a worker, run a benchmark or drive Chromium but are not marked "
            "slow / browser, so `make test-fast` would run them:\n  " + "\n  ".join(unmarked)
        )


def _tier_problem(item) -> bool:
    """Whether ``item`` is missing the mark that keeps it out of the fast tier (see the README)."""
    marks = {mark.name for mark in item.iter_markers()}
    if WORKER_FIXTURES & set(getattr(item, "fixturenames", ())) or "tests/bench/" in item.nodeid:
        return "slow" not in marks
    if _uses_playwright(item.path):
        return "browser" not in marks
    return False


_PLAYWRIGHT: dict = {}


def _uses_playwright(path) -> bool:
    if path not in _PLAYWRIGHT:
        _PLAYWRIGHT[path] = path.suffix == ".py" and "playwright" in path.read_text()
    return _PLAYWRIGHT[path]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, request, tmp_path_factory):
    """When a selected test starts a worker process (fixture ``worker_process`` or
    ``real_worker``), the SQLite test database is a file named db.sqlite3 instead of
    memory, so that process can open it (its DATA_DIR is the file's folder)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if getattr(request.config, "worker_process_tests", False) and db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("testdb") / "db.sqlite3")
