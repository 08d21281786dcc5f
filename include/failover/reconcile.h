/*
 * failover/reconcile.h - reconcile plans: how the zone differs from the
 * registry, name by name. Made by fo_publisher_reconcile() (in
 * <failover/publish.h>), which reads the zone by AXFR; the plan itself is
 * plain data and needs no libuv.
 */
#ifndef FAILOVER_RECONCILE_H
#define FAILOVER_RECONCILE_H

#include "common.h"
#include "group.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fo_plan_action {
  FO_PLAN_CREATE = 1, /* the zone lacks a group's records */
  FO_PLAN_CHANGE = 2, /* the zone has other records at a group's name */
  FO_PLAN_DELETE = 3  /* records at a name the registry says must be empty
                         (a deleted, reserved or target-less group) */
} fo_plan_action;

/* One name of a plan. The library allocates it and may add fields at its
 * end: reach it through fo_plan_entry_at(), never by indexing. */
typedef struct fo_plan_entry {
  fo_plan_action action;
  const char *name;     /* the group's address */
  fo_group *group;      /* NULL for a deleted group */
  const char *current;  /* presentation lines in the zone now, or "" */
  const char *desired;  /* presentation lines wanted, or "" */
} fo_plan_entry;

typedef struct fo_plan {
  int error;            /* 0, or why the zone could not be read */
  size_t zone_records;  /* RRs read from the zone */
  size_t owned_names;   /* names of the zone that belong to groups */
  size_t count;         /* entries; see fo_plan_entry_at() */
} fo_plan;

/* The `index`-th entry (name order), or NULL past `count` or for NULL.
 * Valid during the callback only. */
FO_EXTERN const fo_plan_entry *fo_plan_entry_at(const fo_plan *plan,
                                                size_t index);

/* The plan and everything it points to are valid during the call only. */
typedef void (*fo_plan_fn)(const fo_plan *plan, void *userdata);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_RECONCILE_H */
