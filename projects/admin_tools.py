"""Admin classes whose writes go through the domain services, like every other interface."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction


class ServiceModelAdmin(admin.ModelAdmin):
    """Saves and deletes through services instead of `Model.save()`/`delete()`.

    Subclasses name their record type's services (`services`, a projects.records.RecordServices),
    so the admin writes through exactly the code the pages and the API use. The form is first
    validated by running the service inside a savepoint that is rolled back, so a rule the service
    enforces (a forbidden stage transition, a parent in another relationship) shows up as a form
    error instead of an exception; the real write happens in `save_model`.
    """

    services = None

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        model_admin = self

        class ServiceValidatedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                if self.errors:
                    return cleaned
                savepoint = transaction.savepoint()
                try:
                    model_admin._write(request, self, change=obj is not None)
                except ValidationError as error:
                    _add_errors(self, error)
                except PermissionDenied as denied:
                    self.add_error(None, str(denied))
                finally:
                    transaction.savepoint_rollback(savepoint)
                return cleaned

        return ServiceValidatedForm

    def _write(self, request, form, *, change: bool):
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
            original = self.model._default_manager.get(pk=form.instance.pk)
            return self.services.update_from(actor=request.user, instance=original, values=data)
        return self.services.create_from(actor=request.user, values=form.cleaned_data)

    def save_model(self, request, obj, form, change):
        saved = self._write(request, form, change=change)
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def save_related(self, request, form, formsets, change):
        # Many-to-many values were written by the service (and audited); only inlines remain.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        self.services.delete_record(actor=request.user, instance=obj)

    def delete_queryset(self, request, queryset):
        failed = 0
        for obj in queryset:
            try:
                with transaction.atomic():
                    self.services.delete_record(actor=request.user, instance=obj)
            except ValidationError as error:
                failed += 1
                self.message_user(request, f"{obj}: {' '.join(error.messages)}", messages.ERROR)
        if failed:
            self.message_user(request, f"{failed} record(s) were not deleted.", messages.WARNING)


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, field_errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For computed or append-only rows (scores, audit entries): look, never touch."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
