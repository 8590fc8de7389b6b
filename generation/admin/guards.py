"""Admin actions on ids that are no ids: a 400, not Django's 500.

An action's POST names the rows it acts on (`_selected_action`); Django filters by them as sent,
and an id that does not parse as the model's key ("abc" for an integer key, say) raises ValueError
in the middle of the admin: a 500. Checked here for every registered model admin, third parties'
(django-axes, auth) included, once CSRF and the login have had their say.
"""
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest

BAD_IDS = "The selected rows are not ids of this list."


class AdminActionIdsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        model_admin = getattr(view_func, "model_admin", None)  # set by ModelAdmin.get_urls on its views
        if model_admin is None or request.method != "POST" or ACTION_CHECKBOX_NAME not in request.POST:
            return None
        key = model_admin.model._meta.pk
        try:
            for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
                key.to_python(value)
        except ValidationError:
            return HttpResponseBadRequest(BAD_IDS, content_type="text/plain; charset=utf-8")
        return None
