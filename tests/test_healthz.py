from django.urls import reverse


def test_it_is_healthy_when_database_and_broker_answer(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_answers_503_naming_a_broker_that_is_down(client, db, monkeypatch):
    from webapp.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["broker"].startswith("down:")
    assert response.json()["database"] == "ok"


def test_it_answers_503_when_the_database_is_down(client, db, monkeypatch):
    from curation.views import health

    def broken():
        raise OSError("connection refused")

    monkeypatch.setattr(health, "_database", broken)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503 and "connection refused" in response.json()["database"]
