"""Header names both services read and write."""

REQUEST_ID_HEADER = "X-Request-ID"
RATE_LIMIT_LIMIT = "X-RateLimit-Limit"
RATE_LIMIT_REMAINING = "X-RateLimit-Remaining"
RATE_LIMIT_RESET = "X-RateLimit-Reset"
RETRY_AFTER = "Retry-After"

# Internal calls carry the service token as `Authorization: Bearer <token>`,
# the same header user JWTs use: each side tells them apart by comparing
# with the configured token (constant time), never by a second header that a
# proxy might forget to strip.
AUTHORIZATION = "Authorization"
BEARER_PREFIX = "Bearer "

# Request ids we accept from callers: anything else is replaced by a fresh
# uuid4 so a hostile header can never reach the logs verbatim.
REQUEST_ID_MAX_LENGTH = 128
