# layers.cmake - which way the includes of lib/ may point (cmake -P, run by
# ctest as "layers"). The pure model runs no loop and does no DNS: it never
# includes libuv, c-ares, SQLite, OpenSSL, the engine headers or anything of
# lib/dns and lib/engine. The DNS codec and TSIG include no engine and no
# store; only the transport (UDP/TCP exchanges on libuv) includes the loop.
# Store backends include no engine and no DNS code.
#
#   cmake -DROOT=<source dir> -P tests/layers.cmake

cmake_minimum_required(VERSION 3.16)

if(NOT ROOT)
  message(FATAL_ERROR "layers.cmake: -DROOT=<source dir> is required")
endif()

function(headers_of layer out)
  file(GLOB _h RELATIVE "${ROOT}/lib/${layer}" "${ROOT}/lib/${layer}/*.h")
  set(${out} ${_h} PARENT_SCOPE)
endfunction()

headers_of(dns DNS_HEADERS)
headers_of(engine ENGINE_HEADERS)
headers_of(store STORE_HEADERS)

set(ENGINE_PUBLIC "failover/verify.h" "failover/publish.h" "failover/follow.h")
set(LOOP_AND_WIRE "uv.h" "ares.h")

set(failures "")

# check(layer, forbidden-list-var, forbidden-regex, except-files...)
function(check layer forbidden pattern)
  set(_except ${ARGN})
  file(GLOB _files "${ROOT}/lib/${layer}/*.c" "${ROOT}/lib/${layer}/*.h")
  foreach(_f IN LISTS _files)
    get_filename_component(_name "${_f}" NAME)
    if(_name IN_LIST _except)
      continue()
    endif()
    file(STRINGS "${_f}" _includes REGEX "^#[ \t]*include[ \t]*[<\"]")
    foreach(_line IN LISTS _includes)
      string(REGEX REPLACE "^#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*" "\\1"
             _inc "${_line}")
      if(_inc IN_LIST ${forbidden} OR _inc MATCHES "${pattern}")
        list(APPEND failures "lib/${layer}/${_name} includes ${_inc}")
      endif()
    endforeach()
  endforeach()
  set(failures "${failures}" PARENT_SCOPE)
endfunction()

set(MODEL_FORBIDDEN ${DNS_HEADERS} ${ENGINE_HEADERS} ${ENGINE_PUBLIC}
    ${LOOP_AND_WIRE} "sqlite3.h")
check(model MODEL_FORBIDDEN "^(openssl/|sqlite3)")

set(DNS_FORBIDDEN ${ENGINE_HEADERS} ${STORE_HEADERS} ${ENGINE_PUBLIC}
    "failover/store.h" "sqlite3.h" ${LOOP_AND_WIRE})
check(dns DNS_FORBIDDEN "^sqlite3" transport.c transport.h)

set(STORE_FORBIDDEN ${DNS_HEADERS} ${ENGINE_HEADERS} ${ENGINE_PUBLIC}
    ${LOOP_AND_WIRE})
check(store STORE_FORBIDDEN "^openssl/")

# Public headers: only the engine headers may bring in libuv.
file(GLOB _public "${ROOT}/include/failover/*.h")
list(APPEND _public "${ROOT}/include/failover.h")
foreach(_f IN LISTS _public)
  get_filename_component(_name "${_f}" NAME)
  if(_name MATCHES "^(verify|publish|switch|follow)\\.h$")
    continue()
  endif()
  file(STRINGS "${_f}" _includes REGEX "^#[ \t]*include")
  foreach(_line IN LISTS _includes)
    if(_line MATCHES "uv\\.h|verify\\.h|publish\\.h|switch\\.h|follow\\.h|ares\\.h")
      list(APPEND failures "include/${_name}: ${_line}")
    endif()
  endforeach()
endforeach()

if(failures)
  list(JOIN failures "\n  " _text)
  message(FATAL_ERROR "layer rules broken:\n  ${_text}")
endif()
message(STATUS "layers: model, dns, engine and store include what they may; "
               "only the engine headers bring in libuv")
