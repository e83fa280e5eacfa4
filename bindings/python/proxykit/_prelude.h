/* _prelude.h: the GLib and GIO declarations the Python bindings use, and
 * the shim's (_shim.c). Everything of libproxykit itself is generated from
 * its public headers at build time (_cdefgen.py) and appended to this.
 *
 * This is cffi's cdef dialect, not C: "..." lets the compiler fill in
 * enum values and struct layouts (API mode), and extern "Python" declares
 * the callbacks that C calls back into Python through.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* --- GLib basics --- */
typedef int gint;
typedef unsigned int guint;
typedef int gboolean;
typedef char gchar;
typedef void *gpointer;
typedef uint16_t guint16;
typedef uint32_t guint32;
typedef int64_t gint64;
typedef uint64_t guint64;
typedef double gdouble;
typedef int... gssize;
typedef int... gsize;
typedef int... GType;
typedef uint32_t GQuark;

typedef struct {
  GQuark domain;
  gint code;
  gchar *message;
  ...;
} GError;

typedef struct _GList {
  gpointer data;
  struct _GList *next;
  struct _GList *prev;
} GList;

typedef ... GObject;
typedef ... GValue;
typedef ... GAsyncResult;
typedef ... GCancellable;
typedef ... GSocket;
typedef ... GSocketAddress;
typedef ... GInetAddress;

typedef void (*GAsyncReadyCallback) (GObject *source, GAsyncResult *res, gpointer user_data);
typedef void (*GDestroyNotify) (gpointer data);

typedef enum {
  G_SOCKET_FAMILY_INVALID,
  G_SOCKET_FAMILY_UNIX,
  G_SOCKET_FAMILY_IPV4,
  G_SOCKET_FAMILY_IPV6,
  ...
} GSocketFamily;

typedef enum {
  G_SOCKET_TYPE_INVALID,
  G_SOCKET_TYPE_STREAM,
  G_SOCKET_TYPE_DATAGRAM,
  G_SOCKET_TYPE_SEQPACKET,
  ...
} GSocketType;

typedef enum {
  G_IO_ERROR_FAILED,
  G_IO_ERROR_NOT_FOUND,
  G_IO_ERROR_EXISTS,
  G_IO_ERROR_PERMISSION_DENIED,
  G_IO_ERROR_INVALID_ARGUMENT,
  G_IO_ERROR_NOT_SUPPORTED,
  G_IO_ERROR_CANCELLED,
  G_IO_ERROR_BUSY,
  G_IO_ERROR_TIMED_OUT,
  G_IO_ERROR_HOST_NOT_FOUND,
  G_IO_ERROR_WOULD_BLOCK,
  G_IO_ERROR_ADDRESS_IN_USE,
  G_IO_ERROR_PARTIAL_INPUT,
  G_IO_ERROR_INVALID_DATA,
  G_IO_ERROR_HOST_UNREACHABLE,
  G_IO_ERROR_NETWORK_UNREACHABLE,
  G_IO_ERROR_CONNECTION_REFUSED,
  G_IO_ERROR_PROXY_FAILED,
  G_IO_ERROR_BROKEN_PIPE,
  G_IO_ERROR_CONNECTION_CLOSED,
  G_IO_ERROR_NOT_CONNECTED,
  G_IO_ERROR_MESSAGE_TOO_LARGE,
  ...
} GIOErrorEnum;

GQuark g_io_error_quark (void);
const gchar *g_quark_to_string (GQuark quark);
void g_error_free (GError *error);
GError *g_error_copy (const GError *error);
void g_free (gpointer mem);
void g_strfreev (gchar **str_array);
void g_list_free (GList *list);

gpointer g_object_ref (gpointer object);
void g_object_unref (gpointer object);

GCancellable *g_cancellable_new (void);
void g_cancellable_cancel (GCancellable *cancellable);

int g_socket_get_fd (GSocket *socket);
GSocket *g_socket_new_from_fd (gint fd, GError **error);
GSocketAddress *g_inet_socket_address_new_from_string (const char *address, guint port);
gchar *g_inet_address_to_string (GInetAddress *address);

/* GValue access, for signal arguments */
gboolean g_value_get_boolean (const GValue *value);
gint g_value_get_int (const GValue *value);
guint g_value_get_uint (const GValue *value);
gint64 g_value_get_int64 (const GValue *value);
guint64 g_value_get_uint64 (const GValue *value);
gdouble g_value_get_double (const GValue *value);
gint g_value_get_enum (const GValue *value);
guint g_value_get_flags (const GValue *value);
const gchar *g_value_get_string (const GValue *value);
gpointer g_value_get_object (const GValue *value);

#define G_TYPE_BOOLEAN ...
#define G_TYPE_INT ...
#define G_TYPE_UINT ...
#define G_TYPE_INT64 ...
#define G_TYPE_UINT64 ...
#define G_TYPE_DOUBLE ...
#define G_TYPE_ENUM ...
#define G_TYPE_FLAGS ...
#define G_TYPE_STRING ...
#define G_TYPE_OBJECT ...
#define G_TYPE_BOXED ...

/* --- the shim (_shim.c): the loop thread and marshalling --- */
void pk_py_loop_init (void);
void pk_py_loop_run (void);
void pk_py_loop_quit (void);
gboolean pk_py_loop_is_running (void);
void pk_py_invoke (gsize id);
void pk_py_object_unref (gpointer object);
gpointer pk_py_track (gpointer object);
int pk_py_live_objects (void);
void pk_py_cancellable_unref (gpointer object);
gsize pk_py_value_fundamental (const GValue *value);
char *pk_py_value_dup_json (const GValue *value);
const GValue *pk_py_value_nth (const GValue *values, guint i);
unsigned long pk_py_signal_connect (gpointer instance, const char *signal, gsize id);
void pk_py_signal_disconnect (gpointer instance, unsigned long handler_id);
void pk_py_async_ready (GObject *source, GAsyncResult *res, gpointer user_data);

typedef enum {
  G_LOG_LEVEL_ERROR,
  G_LOG_LEVEL_CRITICAL,
  G_LOG_LEVEL_WARNING,
  G_LOG_LEVEL_MESSAGE,
  G_LOG_LEVEL_INFO,
  G_LOG_LEVEL_DEBUG,
  ...
} GLogLevelFlags;
void pk_py_log_install (void);
void pk_py_log_set_enabled (gboolean enabled);
void pk_py_log_set_debug (gboolean debug);
void pk_py_log_emit (int level, const char *message);

extern "Python" void _pk_py_invoke_cb (gsize id);
extern "Python" void _pk_py_async_ready_cb (GObject *source, GAsyncResult *res, gsize id);
extern "Python" void _pk_py_signal_cb (gsize id, guint n_values, const GValue *values);
extern "Python" void _pk_py_log_cb (int level, const char *domain, const char *message);


/* --- GHashTable (PkModem's device info and signal) --- */
typedef ... GHashTable;
typedef struct { ...; } GHashTableIter;
void g_hash_table_iter_init (GHashTableIter *iter, GHashTable *hash_table);
gboolean g_hash_table_iter_next (GHashTableIter *iter, gpointer *key, gpointer *value);
void g_hash_table_unref (GHashTable *hash_table);

/* --- GPtrArray (relay rule sets) --- */
typedef struct { gpointer *pdata; guint len; } GPtrArray;
GPtrArray *g_ptr_array_new_with_free_func (GDestroyNotify element_free_func);
void g_ptr_array_add (GPtrArray *array, gpointer data);
void g_ptr_array_unref (GPtrArray *array);

/* --- JsonNode (json-glib), for the metrics calls --- */
typedef ... JsonNode;
gchar *json_to_string (JsonNode *node, gboolean pretty);
JsonNode *json_from_string (const char *str, GError **error);
void json_node_unref (JsonNode *node);
