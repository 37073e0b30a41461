#ifndef FERRY_CDIGEST_H
#define FERRY_CDIGEST_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto (Debian's libssl-dev), which uses the
 * CPU's SHA extensions where it has them: the migration's image stream is authenticated
 * in the same pass as it crosses (≥ 1.5 GB/s here), and small images are hashed in
 * process instead of by a sha256sum per checkpoint. Only the calls Ferry makes; every
 * symbol is prefixed fy_. A context is opaque to Swift. */

typedef struct fy_digest fy_digest;

/* A SHA-256 context (key NULL) or an HMAC-SHA256 context keyed with key[0..key_len).
 * NULL when libcrypto cannot make one. */
fy_digest *fy_digest_new(const uint8_t *key, size_t key_len);
int fy_digest_update(fy_digest *digest, const void *bytes, size_t count);
/* Writes the 32-byte result; the context cannot be updated afterwards. */
int fy_digest_final(fy_digest *digest, uint8_t out[32]);
void fy_digest_free(fy_digest *digest);

#endif
