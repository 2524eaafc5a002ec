"""Online payment providers (``orders.payments.PaymentProvider``): ``dev`` (a test checkout served by the
platform, never in production) and ``systempay`` (Lyra's payment form, as Systempay, PayZen, Sogecommerce)."""
