/*
 * failover.h - libfailover, the failover-group library.
 *
 * Including this header pulls in the whole model API. It needs no libuv or
 * DNS headers: the model does no I/O and runs no loop.
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

#endif /* FAILOVER_H */
