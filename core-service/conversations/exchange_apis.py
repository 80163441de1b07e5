"""Export a conversation as a file (Gaji JSON or SillyTavern JSONL) and
import one back as a new conversation of your own (conversations.exchange)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from gaji_contracts.errors import ErrorCode
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from common.exceptions import ApplicationError
from common.schema import errors
from common.serializers import StrictSerializer
from conversations import exchange, selectors
from conversations.apis import ConversationSerializer, StrictUUIDField, conversation_json, visibility_field

# Re-exported for the API document's list of refusals JSON Schema cannot state.
RULES_IN_WORDS = exchange.RULES_IN_WORDS


def too_big(limit: int) -> ApplicationError:
    message = f"The file is larger than {limit} bytes."
    return ApplicationError(
        message, status=413, code=ErrorCode.PAYLOAD_TOO_LARGE, details={"file": [message]}
    )


class ConversationExportApi(APIView):
    # `?format=` is the file's format (settings: URL_FORMAT_OVERRIDE is off), not a DRF renderer.

    class QuerySerializer(serializers.Serializer):
        format = serializers.ChoiceField(
            choices=exchange.FORMATS,
            default="gaji",
            help_text="gaji: Gaji's JSON (tree, speakers, citations, memory); "
            "sillytavern: SillyTavern chat JSONL",
        )

    @extend_schema(
        operation_id="conversations_export",
        parameters=[QuerySerializer],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="format=gaji"),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="format=sillytavern"
            ),
            **errors(404),
        },
        auth=[],
        description="The conversation as a file to download (Content-Disposition: attachment). `gaji`: "
        '`{format: "gaji.conversation", version: 1, exported_at, conversation, messages, memory, tree}`: '
        "every message with its speaker, status, citations and kept versions; `memory` (as GET .../memory "
        "shows each entry) only for the owner and staff; `tree`: the root and the forks a list may show you. "
        "`sillytavern`: a header line and one line per message (deleted ones left out), our own data under "
        "`extra.gaji` and `chat_metadata.gaji`. Whoever may read the conversation: a private one is a 404 "
        "for everyone but its owner and staff.",
    )
    def get(self, request, conversation_id):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        export = exchange.conversation_export(
            conversation_id=conversation_id, viewer=request.user, fmt=query.validated_data["format"]
        )
        return _file_response(export)


def _file_response(export: exchange.Export) -> HttpResponse:
    """The file to download, as built (not rendered by DRF)."""
    response = HttpResponse(export.body, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class ConversationImportApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]

    class InputSerializer(StrictSerializer):
        file = serializers.FileField(
            help_text="A Gaji export (.json) or a SillyTavern chat (.jsonl); at most "
            f"{settings.CONVERSATION_IMPORT_MAX_BYTES} bytes and {exchange.MAX_IMPORT_MESSAGES} messages"
        )
        scenario_id = StrictUUIDField(
            required=False,
            help_text="The scenario of the new conversation; required unless the file names one you may read",
        )
        visibility = visibility_field()

    @extend_schema(
        operation_id="conversations_import",
        request={"multipart/form-data": InputSerializer},
        responses={201: ConversationSerializer, **errors(401, 404, 413, 415)},
        description="Import a conversation file as a NEW conversation of yours (new ids; the original is "
        "never touched), a root, with its messages in order (completed, cancelled and failed answers keep "
        "their status; pending ones become failed) and, from a Gaji file, its memory. Speakers come from the "
        "file (a SillyTavern `is_user` line is you, others a character by name, matched to the cast). The "
        "scenario: `scenario_id`, else the file's own when you may read it (else 400 `scenario_id`); an "
        "unknown or unreadable `scenario_id` is a 404. The visibility defaults to your settings. One "
        "transaction: a bad line anywhere is a 400 on `file` naming it (`line 17: ...`, `message 17: ...`) "
        "and nothing is stored; a larger file is a 413.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        limit = settings.CONVERSATION_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise too_big(limit)
        conversation = exchange.conversation_import(
            user=request.user,
            raw=upload.read(limit + 1),
            filename=upload.name or "",
            scenario_id=data.validated_data.get("scenario_id"),
            visibility=data.validated_data.get("visibility"),
        )
        return Response(
            conversation_json(
                selectors.conversation_get(conversation_id=conversation.id, viewer=request.user)
            ),
            status=status.HTTP_201_CREATED,
        )
