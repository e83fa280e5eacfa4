/* test-access-list.c: PkAccessList against a SoupServer on loopback:
 * parsing (a bad line rejects the copy and is named), fetching, conditional
 * GET, a failed fetch keeping the copy, the cache standing in at start, and
 * a SOCKS server counting a list as its client allowlist
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "pk-access-list.h"
#include "pk-error.h"
#include "pk-socks-server.h"
#include "pk-test-utils.h"

typedef struct {
  SoupServer *server;
  char *url;
  char *body;            /* what /list serves */
  guint status;          /* answered instead while not 0 */
  guint n_requests;
  guint n_not_modified;
  char *dir;
} Fixture;

static void
handler (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           data)
{
  Fixture *f = data;
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  g_autofree char *etag = NULL;

  f->n_requests++;
  if (f->status != 0)
    {
      soup_server_message_set_status (msg, f->status, NULL);
      return;
    }
  etag = g_strdup_printf ("\"%u\"", g_str_hash (f->body));
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "ETag", etag);
  if (g_strcmp0 (soup_message_headers_get_one (req, "If-None-Match"), etag) == 0)
    {
      f->n_not_modified++;
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, f->body, strlen (f->body));
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSList) uris = NULL;

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, "/list", handler, f, NULL);
  g_assert_true (soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->url = g_strdup_printf ("http://127.0.0.1:%d/list", g_uri_get_port (uris->data));
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);
  f->body = g_strdup ("");
  f->dir = g_dir_make_tmp ("test-access-list-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_autofree char *cache = g_build_filename (f->dir, "cache", "a.list", NULL);
  g_autofree char *sub = g_build_filename (f->dir, "cache", NULL);

  g_unlink (cache);
  g_rmdir (sub);
  g_rmdir (f->dir);
  g_free (f->dir);
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_free (f->url);
  g_free (f->body);
  g_free (pk_test_take_expected_warnings ());
}

static void
set_body (Fixture    *f,
          const char *body)
{
  g_free (f->body);
  f->body = g_strdup (body);
}

/* One fetch; the error it ends with, or NULL. */
static GError *
refresh (PkAccessList *list)
{
  g_autoptr(GAsyncResult) result = NULL;
  GError *error = NULL;

  pk_access_list_refresh_async (list, NULL, pk_test_store_result, &result);
  pk_test_wait_result (&result, 10000);
  pk_access_list_refresh_finish (list, result, &error);
  return error;
}

static void
count_changed (PkAccessList *list,
               gpointer      data)
{
  (*(guint *) data)++;
}

static void
test_parse (void)
{
  g_autoptr(PkAccessList) list = pk_access_list_new ("http://127.0.0.1:9/list");
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) entries = NULL;
  guint changed = 0;

  g_signal_connect (list, "changed", G_CALLBACK (count_changed), &changed);
  g_assert_false (pk_access_list_get_loaded (list));
  g_assert_false (pk_access_list_matches (list, "10.1.1.1"));

  g_assert_true (pk_access_list_load_data (list, "# comment\r\n10.0.0.0/8\n\n  192.0.2.7 # gw\n::1/128", &error));
  g_assert_no_error (error);
  g_assert_true (pk_access_list_get_loaded (list));
  g_assert_cmpuint (pk_access_list_get_n_entries (list), ==, 3);
  entries = pk_access_list_dup_entries (list);
  g_assert_cmpstr (entries[0], ==, "10.0.0.0/8");
  g_assert_cmpstr (entries[1], ==, "192.0.2.7");
  g_assert_cmpstr (entries[2], ==, "::1/128");
  g_assert_true (pk_access_list_matches (list, "10.1.1.1"));
  g_assert_true (pk_access_list_matches (list, "::ffff:10.1.1.1"));
  g_assert_false (pk_access_list_matches (list, "192.0.2.8"));
  g_assert_cmpuint (changed, ==, 1);

  /* the same entries again: no change */
  g_assert_true (pk_access_list_load_data (list, "10.0.0.0/8\n192.0.2.7\n::1/128\n", &error));
  g_assert_cmpuint (changed, ==, 1);

  /* a bad line: nothing of the copy applies, and the error names it */
  g_assert_false (pk_access_list_load_data (list, "172.16.0.0/12\n\n10.0.0.0/40\n", &error));
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "line 3 '10.0.0.0/40'"));
  g_assert_cmpuint (pk_access_list_get_n_entries (list), ==, 3);
  g_assert_false (pk_access_list_matches (list, "172.16.0.1"));
  g_assert_cmpuint (changed, ==, 1);
  g_clear_error (&error);

  g_assert_false (pk_access_list_load_data (list, "10.0.0.1 10.0.0.2\n", &error));
  g_assert_nonnull (strstr (error->message, "line 1 '10.0.0.1 10.0.0.2'"));

  /* an empty copy is a list of nobody */
  g_assert_true (pk_access_list_load_data (list, "# nobody\n", NULL));
  g_assert_true (pk_access_list_get_loaded (list));
  g_assert_cmpuint (pk_access_list_get_n_entries (list), ==, 0);
  g_assert_cmpuint (changed, ==, 2);
}

static void
test_fetch (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(PkAccessList) list = pk_access_list_new (f->url);
  g_autofree char *last_error = NULL;
  GError *error;

  set_body (f, "10.0.0.0/8\n192.0.2.7\n");
  error = refresh (list);
  g_assert_no_error (error);
  g_assert_cmpuint (pk_access_list_get_n_entries (list), ==, 2);
  g_assert_cmpint (pk_access_list_get_last_success (list), >, 0);
  g_assert_null (pk_access_list_dup_last_error (list));

  /* conditional: the server answers 304, the copy stays */
  error = refresh (list);
  g_assert_no_error (error);
  g_assert_cmpuint (f->n_not_modified, ==, 1);
  g_assert_cmpuint (pk_access_list_get_n_entries (list), ==, 2);

  /* malformed: rejected whole, counted, named */
  set_body (f, "10.0.0.0/8\nnope\n");
  error = refresh (list);
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, f->url));
  g_assert_nonnull (strstr (error->message, "line 2 'nope'"));
  g_clear_error (&error);
  g_assert_cmpuint (pk_access_list_get_n_entries (list), ==, 2);
  g_assert_cmpuint (pk_access_list_get_fetch_failures (list), ==, 1);
  last_error = pk_access_list_dup_last_error (list);
  g_assert_nonnull (strstr (last_error, "line 2 'nope'"));

  /* failing: the copy stays */
  f->status = SOUP_STATUS_SERVICE_UNAVAILABLE;
  error = refresh (list);
  g_assert_error (error, PK_ERROR, PK_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "HTTP status 503"));
  g_clear_error (&error);
  g_assert_cmpuint (pk_access_list_get_fetch_failures (list), ==, 2);
  g_assert_true (pk_access_list_matches (list, "192.0.2.7"));
  /* the warnings were rate-limited: the first of the run of failures */
  g_assert_cmpuint (pk_test_count_expected_warnings (), ==, 1);
}

static gboolean
has_failed (gpointer data)
{
  return pk_access_list_get_fetch_failures (data) > 0;
}

static gboolean
is_loaded (gpointer data)
{
  return pk_access_list_get_loaded (data);
}

static void
test_cache (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->dir, "cache", "a.list", NULL);
  g_autoptr(PkAccessList) first = pk_access_list_new (f->url);
  g_autoptr(PkAccessList) again = pk_access_list_new (f->url);
  g_autoptr(PkAccessList) other = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  GError *fetch_error;

  pk_access_list_set_cache_path (first, path);
  set_body (f, "192.0.2.0/24\n");
  fetch_error = refresh (first);
  g_assert_no_error (fetch_error);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));

  /* a restart while the URL fails: the cached copy stands in */
  f->status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
  pk_access_list_set_cache_path (again, path);
  pk_access_list_set_refresh (again, 100);
  pk_access_list_start (again);
  g_assert_true (pk_access_list_is_started (again));
  g_assert_true (pk_access_list_matches (again, "192.0.2.1"));
  pk_test_wait_until (has_failed, again, 10000);
  g_assert_true (pk_access_list_matches (again, "192.0.2.1"));
  pk_access_list_stop (again);
  g_assert_false (pk_access_list_is_started (again));

  /* the cache of another URL is not used */
  url = g_strconcat (f->url, "?other", NULL);
  other = pk_access_list_new (url);
  pk_access_list_set_cache_path (other, path);
  g_assert_false (pk_access_list_load_cache (other, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_false (pk_access_list_get_loaded (other));
}

static void
test_socks_allowlist (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(PkSocksServer) server = pk_socks_server_new ();
  g_autoptr(PkAccessList) list = pk_access_list_new (f->url);
  g_autoptr(GError) error = NULL;

  /* the list counts as a client allowlist: a listener off loopback is allowed */
  g_assert_false (pk_socks_server_has_allowlist (server));
  pk_socks_server_set_allow_access_list (server, list);
  g_assert_true (pk_socks_server_has_allowlist (server));
  g_assert_true (pk_socks_server_get_allow_access_list (server) == list);

  /* listening starts the list, stopping stops it */
  set_body (f, "127.0.0.1\n");
  g_assert_true (pk_socks_server_listen (server, "127.0.0.1:0", &error));
  g_assert_no_error (error);
  g_assert_true (pk_access_list_is_started (list));
  pk_test_wait_until (is_loaded, list, 10000);
  pk_socks_server_close (server);
  g_assert_false (pk_access_list_is_started (list));

  pk_socks_server_set_allow_access_list (server, NULL);
  g_assert_false (pk_socks_server_has_allowlist (server));
}

int
main (int   argc,
      char *argv[])
{
  pk_test_init (&argc, &argv);
  pk_test_expect_warnings ("access list");

  g_test_add_func ("/access-list/parse", test_parse);
  g_test_add ("/access-list/fetch", Fixture, NULL, setup, test_fetch, teardown);
  g_test_add ("/access-list/cache", Fixture, NULL, setup, test_cache, teardown);
  g_test_add ("/access-list/socks-allowlist", Fixture, NULL, setup, test_socks_allowlist, teardown);
  return g_test_run ();
}
