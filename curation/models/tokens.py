import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A named API token. Only its sha256 is stored; the key is shown once, at creation."""

    PREFIX_LEN = 8

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LEN, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")

    class Scope(models.TextChoices):
        FULL = "full", "Full: everything your role allows"
        READ = "read", "Read-only: GET requests only"
        CAPTURE = "capture", "Capture-only: import prompts into the pool, nothing else"

    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.FULL)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name, scope=Scope.FULL, expires_at=None):
        """Create a token; returns (token, key). The key is never stored or shown again."""
        key = "cc_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=key[3 : 3 + cls.PREFIX_LEN],
            key_hash=cls.hash_key(key),
            scope=scope,
            expires_at=expires_at,
        )
        return token, key

    @property
    def is_active(self):
        return self.revoked_at is None and not self.is_expired

    @property
    def is_expired(self):
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def revoke(self):
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
