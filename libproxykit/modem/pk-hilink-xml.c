/* pk-hilink-xml.c: parsing the XML of the HiLink web API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "pk-error.h"
#include "pk-hilink-modem.h"
#include "pk-hilink-xml-private.h"

typedef struct {
  PkHilinkXml *xml;
  guint depth;
  GString *text;
  char *current;   /* element whose text is being collected, depth >= 2 */
} ParseState;

/* Deep or huge documents are not HiLink replies; refuse them instead of
 * spending memory on them. */
#define MAX_DEPTH 16
#define MAX_FIELDS 512

void
pk_hilink_xml_free (PkHilinkXml *xml)
{
  if (xml == NULL)
    return;
  g_free (xml->root);
  g_free (xml->text);
  g_clear_pointer (&xml->fields, g_hash_table_unref);
  g_free (xml);
}

static void
on_start (GMarkupParseContext  *context,
          const char           *element,
          const char          **attr_names,
          const char          **attr_values,
          gpointer              user_data,
          GError              **error)
{
  ParseState *state = user_data;

  state->depth++;
  if (state->depth > MAX_DEPTH)
    {
      g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                   "elements nested deeper than %d", MAX_DEPTH);
      return;
    }

  if (state->depth == 1)
    {
      if (state->xml->root != NULL)
        {
          g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                       "more than one root element");
          return;
        }
      state->xml->root = g_strdup (element);
      g_string_truncate (state->text, 0);
      return;
    }

  /* An element with children has no text of its own worth keeping. */
  g_clear_pointer (&state->current, g_free);
  state->current = g_strdup (element);
  g_string_truncate (state->text, 0);
}

static void
on_end (GMarkupParseContext  *context,
        const char           *element,
        gpointer              user_data,
        GError              **error)
{
  ParseState *state = user_data;

  if (state->depth == 1)
    {
      if (g_hash_table_size (state->xml->fields) == 0)
        state->xml->text = g_strdup (g_strstrip (state->text->str));
    }
  else if (state->current != NULL && strcmp (state->current, element) == 0)
    {
      if (g_hash_table_size (state->xml->fields) >= MAX_FIELDS)
        {
          g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                       "more than %d elements", MAX_FIELDS);
          return;
        }
      if (!g_hash_table_contains (state->xml->fields, element))
        g_hash_table_insert (state->xml->fields, g_strdup (element),
                             g_strdup (g_strstrip (state->text->str)));
      g_clear_pointer (&state->current, g_free);
    }
  g_string_truncate (state->text, 0);
  state->depth--;
}

static void
on_text (GMarkupParseContext  *context,
         const char           *text,
         gsize                 text_len,
         gpointer              user_data,
         GError              **error)
{
  ParseState *state = user_data;

  if (state->depth == 1 || state->current != NULL)
    g_string_append_len (state->text, text, text_len);
}

static const GMarkupParser parser = {
  on_start, on_end, on_text, NULL, NULL,
};

/*
 * pk_hilink_xml_parse:
 *
 * Parses a reply of the HiLink API. Fails with %PK_ERROR_PROTOCOL on
 * anything that is not well-formed XML with one root element.
 */
PkHilinkXml *
pk_hilink_xml_parse (const char  *data,
                     gsize        length,
                     GError     **error)
{
  g_autoptr(PkHilinkXml) xml = g_new0 (PkHilinkXml, 1);
  g_autoptr(GMarkupParseContext) context = NULL;
  g_autoptr(GError) local_error = NULL;
  ParseState state = { 0 };
  const char *p = data;
  gsize n = length;

  if (length > PK_HILINK_XML_MAX_SIZE)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL,
                   "reply of %" G_GSIZE_FORMAT " bytes is too large", length);
      return NULL;
    }

  /* GMarkup does not take the XML declaration; skip it and a BOM. */
  if (n >= 3 && memcmp (p, "\xef\xbb\xbf", 3) == 0)
    p += 3, n -= 3;
  while (n > 0 && g_ascii_isspace (*p))
    p++, n--;
  if (n >= 5 && memcmp (p, "<?xml", 5) == 0)
    {
      const char *end = g_strstr_len (p, n, "?>");
      if (end == NULL)
        {
          g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL, "unterminated XML declaration");
          return NULL;
        }
      n -= (end + 2) - p;
      p = end + 2;
    }

  xml->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  state.xml = xml;
  state.text = g_string_new (NULL);

  context = g_markup_parse_context_new (&parser, G_MARKUP_PREFIX_ERROR_POSITION, &state, NULL);
  if (!g_markup_parse_context_parse (context, p, n, &local_error) ||
      !g_markup_parse_context_end_parse (context, &local_error))
    {
      g_string_free (state.text, TRUE);
      g_free (state.current);
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL, "malformed XML reply: %s",
                   local_error->message);
      return NULL;
    }
  g_string_free (state.text, TRUE);
  g_free (state.current);

  if (xml->root == NULL)
    {
      g_set_error (error, PK_ERROR, PK_ERROR_PROTOCOL, "empty XML reply");
      return NULL;
    }

  return g_steal_pointer (&xml);
}

const char *
pk_hilink_xml_get (PkHilinkXml *xml,
                   const char  *name)
{
  return g_hash_table_lookup (xml->fields, name);
}

gboolean
pk_hilink_xml_get_error_code (PkHilinkXml *xml,
                              guint       *code)
{
  const char *str;
  guint64 value;
  char *end = NULL;

  if (g_strcmp0 (xml->root, "error") != 0)
    return FALSE;

  str = pk_hilink_xml_get (xml, "code");
  if (str == NULL || *str == '\0')
    {
      *code = 0;
      return TRUE;
    }
  value = g_ascii_strtoull (str, &end, 10);
  *code = (end != NULL && *end == '\0' && value <= G_MAXUINT) ? (guint) value : 0;
  return TRUE;
}

char *
pk_hilink_xml_build_request (const char * const *pairs)
{
  GString *out = g_string_new ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><request>");

  for (gsize i = 0; pairs[i] != NULL && pairs[i + 1] != NULL; i += 2)
    {
      g_autofree char *escaped = g_markup_escape_text (pairs[i + 1], -1);
      g_string_append_printf (out, "<%s>%s</%s>", pairs[i], escaped, pairs[i]);
    }
  g_string_append (out, "</request>");
  return g_string_free (out, FALSE);
}

const char *
pk_hilink_error_describe (guint code)
{
  switch (code)
    {
    case 100001: return "unknown error";
    case 100002: return "not supported";
    case 100003: return "no rights (login required)";
    case 100004: return "system busy";
    case 100005: return "format error";
    case 108001: return "wrong user name";
    case 108002: return "wrong password";
    case 108003: return "already logged in";
    case 108004: return "login: modifying the password failed";
    case 108005: return "login: too many users";
    case 108006: return "wrong user name or password";
    case 108007: return "login: too many attempts, locked";
    case 112003: return "setting the network mode failed";
    case 125001: return "wrong token";
    case 125002: return "wrong session";
    case 125003: return "wrong session token";
    default: return NULL;
    }
}


