from django.urls import path

from . import views

app_name = "ecps"

urlpatterns = [
    path("", views.holder, name="holder"),
    path("exercises/<int:exercise_id>/activate-with-card/", views.activate_with_card, name="activate-card"),
    path(
        "exercises/<int:exercise_id>/activate-with-codes/", views.activate_with_codes, name="activate-codes"
    ),
    path("activations/<int:pk>/card/", views.card_proof, name="card-proof"),
    path("activations/<int:pk>/codes/", views.codes_proof, name="codes-proof"),
    path("<int:pk>/opposition/", views.opposition, name="opposition"),
    path("<int:pk>/suspension/", views.suspension, name="suspension"),
    path("enrol/", views.enrol, name="enrol"),
    path("enrol/options/", views.enrol_options, name="enrol-options"),
    path("enrol/verify/", views.enrol_verify, name="enrol-verify"),
    path("enrolled/", views.enrolled, name="enrolled"),
    path("signin/", views.signin, name="signin"),
    path("signin/options/", views.signin_options, name="signin-options"),
    path("signin/verify/", views.signin_verify, name="signin-verify"),
    path("demo-rp/callback", views.demo_rp_callback, name="demo-rp-callback"),
    path("relying-parties/", views.relying_parties, name="relying-parties"),
]
