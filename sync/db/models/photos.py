"""What the photo checks learned about each stored image, once per blob (content-addressed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sync.db.models.base import Base, utcnow


class PhotoCheck(Base):
    __tablename__ = "photo_checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    readable: Mapped[bool] = mapped_column(Boolean)
    problem: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it is unreadable
    image_format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    taken_at: Mapped[datetime | None] = mapped_column(nullable=True)  # EXIF capture time
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)  # EXIF GPS
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    fingerprint: Mapped[dict] = mapped_column(default=dict)  # perceptual hashes (media.duplicates)
    thumbnails: Mapped[dict] = mapped_column(default=dict)  # size -> blob key
    features_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # ORB keypoints (media.keypoints)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class PhotoKey(Base):
    """One view key of a checked photo (media.duplicates.Fingerprint.index_rows): the persistent form of
    media.duplicates.DuplicateIndex, so near-duplicate candidates are one indexed lookup, not a scan.

    ``fine`` is the view's 64-bit pHash (stored signed), by which the lookup ranks what the key finds.
    """

    __tablename__ = "photo_keys"
    key: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_check_id: Mapped[int] = mapped_column(ForeignKey("photo_checks.id"), primary_key=True, index=True)
    fine: Mapped[int] = mapped_column(BigInteger, primary_key=True)
