/*
 * failover.h - libfailover, the failover-group library.
 *
 * Including this header pulls in the model API, the store and TSIG keys. It
 * needs no libuv or DNS headers: none of these runs a loop. The engines
 * that do are in <failover/verify.h> and <failover/publish.h>.
 */
#ifndef FAILOVER_H
#define FAILOVER_H

#include "failover/common.h"
#include "failover/version.h"
#include "failover/errors.h"
#include "failover/registry.h"
#include "failover/stack.h"
#include "failover/group.h"
#include "failover/records.h"
#include "failover/feed.h"
#include "failover/store.h"
#include "failover/tsig.h"
#include "failover/reconcile.h"

#endif /* FAILOVER_H */
