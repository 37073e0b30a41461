#include "CDigest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

struct fy_digest {
    EVP_MD_CTX *plain;
    EVP_MAC_CTX *mac;
};

fy_digest *fy_digest_new(const uint8_t *key, size_t key_len) {
    fy_digest *digest = calloc(1, sizeof(*digest));
    if (digest == NULL) return NULL;
    if (key == NULL) {
        digest->plain = EVP_MD_CTX_new();
        if (digest->plain != NULL && EVP_DigestInit_ex(digest->plain, EVP_sha256(), NULL) == 1) return digest;
    } else {
        EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (hmac != NULL) {
            digest->mac = EVP_MAC_CTX_new(hmac);
            EVP_MAC_free(hmac);
        }
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
            OSSL_PARAM_construct_end(),
        };
        if (digest->mac != NULL && EVP_MAC_init(digest->mac, key, key_len, params) == 1) return digest;
    }
    fy_digest_free(digest);
    return NULL;
}

int fy_digest_update(fy_digest *digest, const void *bytes, size_t count) {
    if (digest->plain != NULL) return EVP_DigestUpdate(digest->plain, bytes, count) == 1 ? 0 : -1;
    return EVP_MAC_update(digest->mac, bytes, count) == 1 ? 0 : -1;
}

int fy_digest_final(fy_digest *digest, uint8_t out[32]) {
    if (digest->plain != NULL) {
        unsigned int length = 0;
        return EVP_DigestFinal_ex(digest->plain, out, &length) == 1 && length == 32 ? 0 : -1;
    }
    size_t length = 0;
    return EVP_MAC_final(digest->mac, out, &length, 32) == 1 && length == 32 ? 0 : -1;
}

void fy_digest_free(fy_digest *digest) {
    if (digest == NULL) return;
    EVP_MD_CTX_free(digest->plain);
    EVP_MAC_CTX_free(digest->mac);
    free(digest);
}
