/*
 * config_internal.h - what the config module's files share (kubeconfig.c,
 * incluster.c, auth.c, exec_plugin.c). kc__ prefix; not for library callers.
 * Tests and the fuzz target use the hooks at the bottom.
 */
#ifndef KC_CONFIG_INTERNAL_H
#define KC_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc/config.h"
#include "kc/error.h"

/* Default time an exec plugin may run before it is killed (client-go has none;
 * kubectl users hit hangs on interactive plugins, so we bound it). */
#define KC_EXEC_TIMEOUT_MS   30000
/* Bytes of a failing plugin's stderr quoted in the error message. */
#define KC_EXEC_STDERR_MAX   (16u << 10)

/* ---- shared helpers (auth.c) ------------------------------------------- */

/*
 * Read a whole regular file of at most cap bytes into out (owned, NUL-added
 * after len). Devices, FIFOs and directories are refused (KC_ERR_IO). what names the field for messages ("certificate-authority").
 * KC_ERR_IO when unreadable, KC_ERR_TOOBIG over cap, KC_ERR_NOMEM.
 * On failure out is empty.
 */
kc_err kc__read_file(const char *path, size_t cap, const char *what, kc_blob *out,
                     kc_error_detail *d);
/* Free the data and zero the blob. Accepts NULL. */
void kc__blob_release(kc_blob *b);
/* Deep copy (empty stays empty). KC_ERR_NOMEM leaves dst empty. */
kc_err kc__blob_copy(kc_blob *dst, const kc_blob *src);
/* Copy of s with leading/trailing ASCII whitespace removed; NULL on NOMEM. */
char *kc__strdup_trimmed(const char *s, size_t len);

/* ---- exec plugin (exec_plugin.c) --------------------------------------- */

/* Deep copy / free of an exec config. Copy: KC_ERR_NOMEM leaves *out NULL. */
kc_err kc__exec_config_copy(const kc_exec_config *src, kc_exec_config **out);
void kc__exec_config_free(kc_exec_config *e);

/* What one plugin run produced (plugin/pkg/client/auth/exec's ExecCredential). */
typedef struct kc__exec_result {
	char *token;           /* owned; NULL when the plugin gave a certificate */
	kc_blob client_cert;   /* PEM */
	kc_blob client_key;
	bool has_expiry;
	int64_t expiry_wall_us;
} kc__exec_result;

void kc__exec_result_release(kc__exec_result *r);

/*
 * Run the plugin once (fork + execvp, no shell) and parse its ExecCredential.
 * cluster_cfg supplies spec.cluster when provideClusterInfo is set (may be NULL).
 * timeout_ms <= 0 means KC_EXEC_TIMEOUT_MS (or the test override).
 * KC_ERR_EXEC for every plugin failure (message names the command),
 * KC_ERR_TOOBIG when stdout passes KC_EXEC_OUTPUT_MAX, KC_ERR_NOMEM.
 * On failure *out is zeroed.
 */
kc_err kc__exec_run(const kc_exec_config *ec, const kc_config *cluster_cfg,
                    kc__exec_result *out, kc_error_detail *d);

/* Test hook: plugin timeout in ms for subsequent runs; <= 0 restores the default. */
void kc__exec_set_timeout_ms(int64_t ms);

/* ---- kubeconfig (kubeconfig.c) ----------------------------------------- */

/*
 * Parse one kubeconfig held in memory and resolve it into a config, as if it
 * were the only file: name is used in messages, base_dir resolves relative
 * paths (NULL = relative paths are kept as given), context as in
 * kc_config_load_kubeconfig. Used by the fuzz target.
 */
kc_err kc__kubeconfig_parse_mem(const void *data, size_t len, const char *name,
                                const char *base_dir, const char *context,
                                kc_config **out, kc_error_detail *d);


#endif
