from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import ApprovalViewSet, ApproveView, RejectView

router = SimpleRouter()
router.register("approvals", ApprovalViewSet, basename="approval")

urlpatterns = [
    *router.urls,
    path("approvals/<int:pk>/approve/", ApproveView.as_view(), name="approval-approve"),
    path("approvals/<int:pk>/reject/", RejectView.as_view(), name="approval-reject"),
]
