/*
 * webhead.c - host names of servers, the web head of a stack, and the
 * re-targeting of every group that follows a stack when its head moves.
 */
#include "internal.h"
#include "names.h"

#include <string.h>

/* Expand `tmpl`. Returns 0, FO_EBADTEMPLATE (unknown or unclosed
 * placeholder) or FO_ENAMETOOLONG (longer than any name). `seen` gets a bit
 * per placeholder used: 1 server, 2 stack, 4 zone. */
static int expand(const char *tmpl, const char *server, const char *stack,
                  const char *zone, char out[FO_NAME_BUFSIZE], unsigned *seen) {
  static const struct {
    const char *token;
    unsigned bit;
  } tokens[] = {{"{server}", 1}, {"{stack}", 2}, {"{zone}", 4}};
  size_t n = 0;
  *seen = 0;
  while (*tmpl) {
    const char *piece = tmpl;
    size_t len = 1, k;
    if (*tmpl == '}')
      return FO_EBADTEMPLATE;
    if (*tmpl == '{') {
      for (k = 0; k < sizeof(tokens) / sizeof(tokens[0]); k++) {
        size_t tl = strlen(tokens[k].token);
        if (strncmp(tmpl, tokens[k].token, tl) == 0) {
          const char *values[] = {server, stack, zone};
          piece = values[k];
          len = strlen(piece);
          *seen |= tokens[k].bit;
          tmpl += tl;
          break;
        }
      }
      if (k == sizeof(tokens) / sizeof(tokens[0]))
        return FO_EBADTEMPLATE;
    } else {
      tmpl++;
    }
    if (n + len > FO_NAME_MAX + 1)
      return FO_ENAMETOOLONG;
    memcpy(out + n, piece, len);
    n += len;
  }
  out[n] = '\0';
  return 0;
}

/* {server} and {stack} must not share a label: in "{server}-{stack}",
 * server "a-b" of stack "c" and server "a" of stack "b-c" would both be
 * "a-b-c", and a switch between them would move nothing. In labels of their
 * own (literal text around them allowed), every pair forms its own name. */
static int placeholders_apart(const char *tmpl) {
  unsigned in_label = 0;
  for (; *tmpl; tmpl++) {
    if (*tmpl == '.')
      in_label = 0;
    else if (strncmp(tmpl, "{server}", 8) == 0)
      in_label |= 1u;
    else if (strncmp(tmpl, "{stack}", 7) == 0)
      in_label |= 2u;
    if (in_label == 3u)
      return 0;
  }
  return 1;
}

int fo__template_validate(const char *tmpl, const char *zone) {
  char host[FO_NAME_BUFSIZE], norm[FO_NAME_BUFSIZE];
  unsigned seen;
  int rc = expand(tmpl, "a", "b", zone, host, &seen);
  if (rc == 0 && !placeholders_apart(tmpl))
    return FO_EBADTEMPLATE;
  if (rc == FO_EBADTEMPLATE)
    return rc;
  if (rc != 0 || (seen & 3u) != 3u)
    return FO_EBADTEMPLATE;
  /* The literal parts must make a valid name around the shortest values. */
  return fo__name_normalize(host, norm, NULL) == 0 ? 0 : FO_EBADTEMPLATE;
}

int fo__templated_host(const fo_registry *reg, const char *stack_name,
                       const char *server_name, char out[FO_NAME_BUFSIZE]) {
  char raw[FO_NAME_BUFSIZE];
  unsigned seen;
  int rc = expand(reg->host_template, server_name, stack_name, reg->zone, raw,
                  &seen);
  if (rc != 0)
    return rc;
  return fo__name_normalize(raw, out, NULL);
}

void fo__head_compute(const fo_stack *stack, fo__head *out) {
  const fo__server_list *lbs = &stack->servers[FO_SERVER_LOAD_BALANCER - 1];
  const fo__server_list *webs = &stack->servers[FO_SERVER_WEB - 1];
  const fo__server *s;
  memset(out, 0, sizeof(*out));
  if (lbs->len > 0) {
    s = &lbs->items[0];
    out->rule = FO_WEB_HEAD_FIRST_LOAD_BALANCER;
    out->kind = FO_SERVER_LOAD_BALANCER;
  } else if (webs->len > 0) {
    s = &webs->items[0];
    out->rule = FO_WEB_HEAD_FIRST_WEB_SERVER;
    out->kind = FO_SERVER_WEB;
  } else {
    return;
  }
  out->present = 1;
  out->server_index = 0;
  strcpy(out->host_name, s->host_name);
  memcpy(out->ipv4, s->ipv4, sizeof(out->ipv4));
  memcpy(out->ipv6, s->ipv6, sizeof(out->ipv6));
}

void fo__stack_retarget(fo_stack *stack, const fo__head *old_head,
                        fo_change_reason reason) {
  int slot;
  if (old_head->present == stack->head.present &&
      strcmp(old_head->host_name, stack->head.host_name) == 0 &&
      strcmp(old_head->ipv4, stack->head.ipv4) == 0 &&
      strcmp(old_head->ipv6, stack->head.ipv6) == 0)
    return; /* nothing any group's records depend on moved */
  for (slot = 0; slot < 2; slot++) {
    fo_group *g;
    for (g = stack->followers[slot]; g != NULL; g = g->next[slot]) {
      fo_target before, after;
      if (g->active != slot)
        continue;
      fo__target_from_head(old_head, g, &before);
      fo__target_from_head(&stack->head, g, &after);
      if (!fo__target_equal(&before, &after))
        fo__emit(g, reason, &before, &after);
    }
  }
}
