"""Public novel catalogue (/api/v1/novels), readers' story imports
(/api/v1/novels/imports, /api/v1/users/me/novels) and the ai service's
internal novel API (/api/internal/novels)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from gaji_contracts.novels import (
    IngestionStatus,
    NovelAccess,
    NovelCreate,
    NovelUpdate,
    NovelVisibility,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.exceptions import ApplicationError
from common.pagination import PageInfo, PageQuerySerializer, PageRequest, page_serializer, paginate
from common.parsers import SafeJSONParser
from common.request_id import request_id_of
from common.schema import errors, strict_inline
from common.serializers import StrictSerializer
from internal.apis import InternalApiView, parse_contract
from novels import selectors, services
from novels.models import Novel

VISIBILITIES = [v.value for v in NovelVisibility]


class NovelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Novel
        fields = [
            "id",
            "slug",
            "title",
            "author",
            "publication_year",
            "genre",
            "language",
            "ingestion_status",
            "total_passages",
            "total_characters",
            "vectordb_collection_id",
            "owner_id",
            "visibility",
            "source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields  # an answer's shape: every field is always there


class OwnNovelSerializer(NovelSerializer):
    """A novel as its owner sees it: where it came from and its ingestion job."""

    class Meta(NovelSerializer.Meta):
        fields = [*NovelSerializer.Meta.fields, "source_url", "source_bytes", "ingest_job_id"]
        read_only_fields = fields


NovelPageSerializer = page_serializer("NovelPage", NovelSerializer)


class QuotaSerializer(serializers.Serializer):
    used_count = serializers.IntegerField()
    max_count = serializers.IntegerField()
    used_bytes = serializers.IntegerField()
    max_bytes = serializers.IntegerField()


class OwnNovelPageSerializer(serializers.Serializer):
    content = OwnNovelSerializer(many=True)
    page = PageInfo()
    quota = QuotaSerializer()


class NovelListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=[s.value for s in IngestionStatus], required=False)
        q = serializers.CharField(
            max_length=200, required=False, help_text="Matches title or author (case-insensitive)"
        )

    @extend_schema(
        operation_id="novels_list",
        parameters=[FilterSerializer, PageQuerySerializer],
        responses={200: NovelPageSerializer, **errors()},
        auth=[],
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        novels = selectors.novel_list(**filters.validated_data)
        body = paginate(novels, PageRequest.from_request(request), lambda n: NovelSerializer(n).data)
        return Response(body)


class NovelDetailApi(APIView):
    class UpdateSerializer(StrictSerializer):
        title = serializers.CharField(max_length=300, required=False)
        author = serializers.CharField(max_length=200, required=False, allow_blank=True)
        visibility = serializers.ChoiceField(choices=VISIBILITIES, required=False)

    def get_permissions(self):
        return [] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(
        operation_id="novels_get",
        responses={200: NovelSerializer, **errors(404)},
        auth=[],
        description="A novel by id or slug. A private novel is a 404 for anyone but its owner and staff; "
        "an unlisted one is readable by anyone with its id or slug (no list shows it).",
    )
    def get(self, request, id_or_slug: str):
        novel = selectors.novel_get(id_or_slug=id_or_slug, user=request.user)
        serializer = (
            OwnNovelSerializer if selectors.is_owner_or_staff(novel, request.user) else NovelSerializer
        )
        return Response(serializer(novel).data)

    @extend_schema(
        operation_id="novels_update",
        request=UpdateSerializer,
        responses={200: OwnNovelSerializer, **errors(401, 403, 404)},
        description="Rename a novel or change who sees it (its owner or staff; the slug stays).",
    )
    def patch(self, request, id_or_slug: str):
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        novel = selectors.novel_get(id_or_slug=id_or_slug, user=request.user)
        novel = services.novel_owner_update(novel=novel, user=request.user, data=data.validated_data)
        return Response(OwnNovelSerializer(novel).data)

    @extend_schema(
        operation_id="novels_delete",
        responses={204: None, **errors(401, 403, 404)},
        description="Delete a novel (its owner or staff). Scenarios on a novel that was not public are "
        "deleted with it; on a public one they stay, without a novel. ai drops the novel's vectors.",
    )
    def delete(self, request, id_or_slug: str):
        novel = selectors.novel_get(id_or_slug=id_or_slug, user=request.user)
        services.novel_owner_delete(novel=novel, user=request.user, request_id=request_id_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class NovelImportApi(APIView):
    """A reader's story: a .txt, .md or .epub file (multipart) or a URL (JSON)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, SafeJSONParser]

    class InputSerializer(StrictSerializer):
        file = serializers.FileField(required=False, help_text=".txt, .md or .epub (multipart only)")
        url = serializers.CharField(max_length=2000, required=False, help_text="http(s) URL (JSON only)")
        title = serializers.CharField(max_length=300, required=False)
        author = serializers.CharField(max_length=200, required=False, allow_blank=True)
        language = serializers.CharField(max_length=20, required=False)
        visibility = serializers.ChoiceField(choices=VISIBILITIES, default=NovelVisibility.PRIVATE.value)

    class AcceptedSerializer(serializers.Serializer):
        novel = OwnNovelSerializer()
        job_id = serializers.CharField(help_text="Follow it at GET /api/ai/novels/status/{job_id}")
        estimated_duration_minutes = serializers.FloatField()

    @extend_schema(
        operation_id="novels_import",
        request={
            "multipart/form-data": strict_inline(
                "NovelImportUpload",
                {
                    "file": serializers.FileField(),
                    "title": serializers.CharField(max_length=300, required=False),
                    "author": serializers.CharField(max_length=200, required=False),
                    "language": serializers.CharField(max_length=20, required=False),
                    "visibility": serializers.ChoiceField(choices=VISIBILITIES, required=False),
                },
            ),
            "application/json": strict_inline(
                "NovelImportUrl",
                {
                    "url": serializers.CharField(max_length=2000),
                    "title": serializers.CharField(max_length=300, required=False),
                    "author": serializers.CharField(max_length=200, required=False),
                    "language": serializers.CharField(max_length=20, required=False),
                    "visibility": serializers.ChoiceField(choices=VISIBILITIES, required=False),
                },
            ),
        },
        responses={202: AcceptedSerializer, **errors(401, 409, 413, 415, 503)},
        description="Import a story as the reader's own novel (private unless `visibility` says otherwise) "
        "and start its ingestion. A file (.txt, .md or .epub by name, at most NOVEL_IMPORT_MAX_BYTES) or a "
        "public http(s) URL (fetched safely: public addresses only, checked on every redirect; 5 redirects, "
        "20 s, the same size cap; text/plain, text/markdown, text/html or application/epub+zip). The title "
        "defaults to the EPUB's, else a Project Gutenberg header's, else the file name. 409 when the "
        "reader's quota (NOVEL_IMPORT_MAX_COUNT stories, NOVEL_IMPORT_MAX_TOTAL_BYTES) would be passed; 429 "
        "past NOVEL_IMPORT_PER_HOUR imports an hour; 503 when ai cannot take it (nothing is kept).",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        upload, url = values.pop("file", None), values.pop("url", None)
        if (upload is None) == (url is None):
            raise ApplicationError(
                services.FILE_OR_URL, details={"file": [services.FILE_OR_URL], "url": [services.FILE_OR_URL]}
            )
        services.check_import_rate(request.user)
        services.check_quota(request.user)
        source = services.upload_source(upload) if upload is not None else services.url_source(url)
        result = services.novel_import(
            owner=request.user, source=source, request_id=request_id_of(request), **values
        )
        body = {
            "novel": OwnNovelSerializer(result.novel).data,
            "job_id": result.job_id,
            "estimated_duration_minutes": result.estimated_duration_minutes,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class OwnNovelListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_me_novels",
        parameters=[PageQuerySerializer],
        responses={200: OwnNovelPageSerializer, **errors(401)},
        description="The reader's own imported novels (newest first) with their ingestion status and job, "
        "and `quota`: stories and bytes used of NOVEL_IMPORT_MAX_COUNT and NOVEL_IMPORT_MAX_TOTAL_BYTES.",
    )
    def get(self, request):
        body = paginate(
            selectors.owned_novels(user=request.user),
            PageRequest.from_request(request),
            lambda n: OwnNovelSerializer(n).data,
        )
        body["quota"] = QuotaSerializer(selectors.quota_of(request.user)).data
        return Response(body)


class InternalNovelCreateApi(InternalApiView):
    class StatusSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=[s.value for s in IngestionStatus], required=False)

    @extend_schema(
        operation_id="internal_novels_list",
        parameters=[StatusSerializer, PageQuerySerializer],
        responses={200: NovelPageSerializer, **errors(401, 403)},
        description="Novels by ingestion status (the ai service checks that the completed ones "
        "are really in its vector store). Service token only.",
    )
    def get(self, request):
        filters = self.StatusSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        novels = selectors.novel_list(status=filters.validated_data.get("status"), listed_only=False)
        body = paginate(novels, PageRequest.from_request(request), lambda n: NovelSerializer(n).data)
        return Response(body)

    @extend_schema(
        operation_id="internal_novels_create",
        request=NovelCreate,
        responses={201: NovelSerializer, **errors(401, 403, 409)},
        description="Create a novel's metadata (ai service, during ingestion). Service token only.",
    )
    def post(self, request):
        novel = services.novel_create(data=parse_contract(NovelCreate, request.data))
        return Response(NovelSerializer(novel).data, status=status.HTTP_201_CREATED)


class InternalNovelDetailApi(InternalApiView):
    @extend_schema(
        operation_id="internal_novels_get",
        responses={200: NovelSerializer, **errors(401, 403, 404)},
        description="A novel's metadata by id or slug. Service token only.",
    )
    def get(self, request, novel_id: str):
        return Response(NovelSerializer(selectors.novel_get(id_or_slug=novel_id, internal=True)).data)

    @extend_schema(
        operation_id="internal_novels_update",
        request=NovelUpdate,
        responses={200: NovelSerializer, **errors(401, 403, 404)},
        description="Update ingestion status and counts (ai service). Service token only.",
    )
    def patch(self, request, novel_id: str):
        novel = selectors.novel_get(id_or_slug=novel_id, internal=True)
        novel = services.novel_update(novel=novel, data=parse_contract(NovelUpdate, request.data))
        return Response(NovelSerializer(novel).data)


class InternalNovelAccessApi(InternalApiView):
    @extend_schema(
        operation_id="internal_novels_access",
        responses={200: NovelAccess, **errors(401, 403, 404)},
        description="Who may read a novel (owner, visibility): the ai service checks it before it serves "
        "a novel's characters, passages or vectors. Service token only.",
    )
    def get(self, request, novel_id: str):
        novel = selectors.novel_get(id_or_slug=novel_id, internal=True)
        access = NovelAccess(id=novel.id, owner_id=novel.owner_id, visibility=novel.visibility)
        return Response(access.model_dump(mode="json"))
