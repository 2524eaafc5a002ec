"""Admin: cards are watched here, never edited (their state changes through the card services).
PIN mailers' sealed content is never shown."""

from django.contrib import admin

from core.admin import ReadOnly

from .models import Card


@admin.register(Card)
class CardAdmin(ReadOnly):
    list_display = ["number", "card_type", "professional", "state", "valid_until"]
    list_filter = ["card_type", "state"]
    search_fields = ["number", "professional__national_id", "professional__last_name"]
