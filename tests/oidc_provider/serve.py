"""Run the test OpenID Connect provider: ``python -m tests.oidc_provider.serve PORT``.

Environment: OIDC_PROVIDER_DB (a SQLite file), OIDC_PROVIDER_KEY (an RSA private key, PEM),
OIDC_PROVIDER_CLIENT (JSON: client_id, client_secret, redirect_uri) and OIDC_PROVIDER_USERS
(JSON list: username, password, email, groups).
"""

import json
import os
import sys


def main(port: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    for spec in json.loads(os.environ["OIDC_PROVIDER_USERS"]):
        user = User.objects.create_user(spec["username"], spec["email"], spec["password"])
        for name in spec.get("groups", []):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    client = json.loads(os.environ["OIDC_PROVIDER_CLIENT"])
    Application.objects.create(
        name="curation",
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=client["redirect_uri"],
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True, skip_checks=True)


if __name__ == "__main__":
    main(sys.argv[1])
