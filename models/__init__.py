"""SQLAlchemy models shared by the web app and the workers. Imports nothing of matchmaker or workers."""
from models.api import ApiToken, IdempotentRequest, Webhook, WebhookDelivery
from models.audit import AuditLog
from models.base import MAX_ID, Base, aware, utcnow
from models.db import Session, configure
from models.deals import (
    DEAL_STAGE_ORDER,
    Contract,
    Deal,
    DealNote,
    DealOrigin,
    DealStage,
    DealStageChange,
    DeclineReason,
    HelpRequest,
    HelpRequestStatus,
    Introduction,
    IntroductionAttachment,
    IntroductionMessage,
    IntroductionStatus,
    LostReason,
    MessageKind,
)
from models.fairs import (
    Fair,
    FairAvailability,
    FairCheckIn,
    FairListing,
    FairMeeting,
    FairParticipant,
    FairScheduleRun,
    FairSession,
    FairSlot,
    MeetingRequest,
)
from models.importing import ImportBatch, ImportStatus
from models.job import Job, JobStatus
from models.listing import (
    LISTING_MODELS,
    CloseReason,
    ListingStatus,
    ResearchResult,
    TechNeed,
    listing_model,
)
from models.matching import (
    CalibrationVersion,
    DismissReason,
    FeedbackReason,
    IndexState,
    ListingVector,
    MatchDismissal,
    MatchFeedback,
    ModelStatus,
    OutboxEvent,
    OutcomeFeatures,
    Verdict,
)
from models.notification import Notification
from models.org import Organization, OrgKind, Role, User

__all__ = [
    "MAX_ID", "aware", "ApiToken", "IdempotentRequest", "Webhook", "WebhookDelivery",
    "DEAL_STAGE_ORDER", "Contract", "Deal", "DealNote", "DealOrigin", "DealStage", "DealStageChange",
    "DeclineReason", "HelpRequest", "HelpRequestStatus", "Introduction", "IntroductionAttachment",
    "IntroductionMessage", "IntroductionStatus", "LostReason", "MessageKind",
    "CalibrationVersion", "DismissReason", "FeedbackReason", "IndexState", "ListingVector", "MatchDismissal",
    "MatchFeedback", "ModelStatus", "OutboxEvent", "OutcomeFeatures", "Verdict",
    "ImportBatch", "ImportStatus",
    "Fair", "FairAvailability", "FairCheckIn", "FairListing", "FairMeeting", "FairParticipant",
    "FairScheduleRun", "FairSession", "FairSlot", "MeetingRequest",
    "LISTING_MODELS", "AuditLog", "Base", "CloseReason", "Job", "JobStatus", "ListingStatus",
    "Notification", "OrgKind", "Organization", "ResearchResult", "Role", "Session", "TechNeed",
    "User", "configure", "listing_model", "utcnow",
]
