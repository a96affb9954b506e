"""Who may see what: an account's membership of a project (role and area), and failed sign-ins.

A membership's ``area`` is an administrative code (county 6 digits, township 9, village 12) or "" for the
whole project. Everything an account reads or changes is limited to the households, submissions, photos
and flags of that area (sync/access/scope.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync.db.models.base import Base, utcnow


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "project_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    area: Mapped[str] = mapped_column(String(12), default="")  # "" = the whole project
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignInFailure(Base):
    """One refused sign-in, kept a short while so repeated guesses are slowed per account and per address.

    In the database rather than in memory so that several ``qingling serve`` processes share the count.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email_at", "email", "at"),
        Index("ix_sign_in_failures_address_at", "address", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(Base):
    """A note on a submission (Central's submission comments), shown in its thread."""

    __tablename__ = "submission_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
