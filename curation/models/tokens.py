import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A named API token. Only its sha256 is stored; the key is shown once, at creation."""

    PREFIX_LEN = 8

    class Scope(models.TextChoices):
        ALL = "all", "Everything its user may do"
        CAPTURE = "capture", "Production capture only"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LEN, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A capture token sits in production services: it can only send captures, nothing else.
    scope = models.CharField(max_length=20, choices=Scope.choices, default=Scope.ALL)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name, scope=Scope.ALL):
        """Create a token; returns (token, key). The key is never stored or shown again."""
        key = "cc_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, prefix=key[3 : 3 + cls.PREFIX_LEN], key_hash=cls.hash_key(key), scope=scope
        )
        return token, key

    @property
    def is_active(self):
        return self.revoked_at is None

    def revoke(self):
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
