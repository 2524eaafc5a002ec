from rest_framework.routers import SimpleRouter

from .api import StationViewSet

router = SimpleRouter()
router.register("stations", StationViewSet, basename="station")

urlpatterns = router.urls
