from django.contrib import admin
from django.urls import path, re_path
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from generation.api import errors, health, openai_compat, views

urlpatterns = [
    # The address gunicorn prints: a page pointing at the API's docs and the admin.
    path("", TemplateView.as_view(template_name="generation/home.html"), name="home"),
    path("v1/generate", views.GenerateView.as_view()),
    path("v1/generations/<uuid:pk>", views.GenerationDetailView.as_view()),
    path("v1/styles", views.StylesView.as_view()),
    path("v1/metrics", views.MetricsView.as_view()),
    path("v1/images/generations", openai_compat.ImagesGenerationsView.as_view()),
    path("v1/models", openai_compat.ModelsView.as_view()),
    path("v1/models/<str:model_id>", openai_compat.ModelDetailView.as_view()),
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Typed without the slash, before the catch-all below answers them 404.
    path("v1/docs", RedirectView.as_view(pattern_name="docs")),
    path("v1/schema", RedirectView.as_view(pattern_name="schema", query_string=True)),
    # Last under /v1/: unknown paths and ids that are not ids answer 404 in the API's JSON shape.
    re_path(r"^v1/", errors.not_found),
    path("healthz", health.healthz),
    path("metrics", views.prometheus_metrics),
    path("admin/", admin.site.urls),
]

handler400 = "generation.api.errors.bad_request"
handler404 = "generation.api.errors.not_found"
handler500 = "generation.api.errors.server_error"
