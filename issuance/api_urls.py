from rest_framework.routers import SimpleRouter

from .api import CardViewSet, StationViewSet

router = SimpleRouter()
router.register("stations", StationViewSet, basename="station")
router.register("cards", CardViewSet, basename="card")

urlpatterns = router.urls
