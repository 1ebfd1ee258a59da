"""The sample domain's state: what a use case loads, changes and saves, raising events as it goes."""

from domain.model.announcement import Announcement
from domain.model.report import Report, ReportStatus, TransitionError

__all__ = ["Announcement", "Report", "ReportStatus", "TransitionError"]
