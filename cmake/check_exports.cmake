# cmake -DNM=<nm> -DLIB=<libfailover.so> -P check_exports.cmake
#
# The shared library must export the public API (fo_*) and nothing else:
# internals (fo__*, static helpers) stay hidden behind
# C_VISIBILITY_PRESET hidden.
if(NOT NM OR NOT LIB)
  message(FATAL_ERROR "usage: cmake -DNM=nm -DLIB=libfailover.so -P ${CMAKE_SCRIPT_MODE_FILE}")
endif()
execute_process(
  COMMAND "${NM}" -D --defined-only "${LIB}"
  OUTPUT_VARIABLE out
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} failed on ${LIB}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(public 0)
set(bad "")
foreach(line IN LISTS lines)
  # "<address> <type> <name>"
  if(NOT line MATCHES "^[0-9a-fA-F]+ ([A-Za-z]) ([^ ]+)$")
    continue()
  endif()
  set(type "${CMAKE_MATCH_1}")
  set(name "${CMAKE_MATCH_2}")
  if(type STREQUAL "A") # version nodes
    continue()
  endif()
  if(name MATCHES "^fo_[a-z0-9]" AND NOT name MATCHES "^fo__")
    math(EXPR public "${public} + 1")
  elseif(NOT name MATCHES "^(_init|_fini|_edata|_end|__bss_start)$")
    list(APPEND bad "${name}")
  endif()
endforeach()
if(bad)
  string(REPLACE ";" "\n  " bad "${bad}")
  message(FATAL_ERROR "exported but not public API:\n  ${bad}")
endif()
if(public EQUAL 0)
  message(FATAL_ERROR "no fo_* symbol exported from ${LIB}")
endif()
message(STATUS "${public} public symbols exported, nothing else")
