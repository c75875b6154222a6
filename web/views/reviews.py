"""The quarterly business review pack of a relationship, as a PDF download."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from projects.models import Relationship
from reviews import services
from reviews.quarters import Quarter
from reviews.render import RenderingUnavailable


def pdf_response(pack: services.PackFile) -> HttpResponse:
    """The pack as a download, with its checksum (the same bytes give the same ETag)."""
    response = HttpResponse(pack.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pack.filename}"'
    response["ETag"] = f'"{pack.sha256}"'
    response["X-Checksum-SHA256"] = pack.sha256
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
@login_required
def qbr_pack(request, pk: int):
    code = request.GET.get("quarter")
    try:
        quarter = Quarter.parse(code) if code else Quarter.last_complete(timezone.localdate())
        pack = services.pack_for(user=request.user, relationship_id=pk, quarter=quarter)
    except Relationship.DoesNotExist as missing:
        raise Http404("No such relationship.") from missing
    except ValueError as invalid:
        return HttpResponse(str(invalid), status=400, content_type="text/plain; charset=utf-8")
    except RenderingUnavailable as unavailable:
        return HttpResponse(str(unavailable), status=503, content_type="text/plain; charset=utf-8")
    return pdf_response(pack)
