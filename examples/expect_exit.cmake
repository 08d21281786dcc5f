# Run a program and require an exact exit status (ctest's WILL_FAIL accepts
# any failure, a crash included).
#
#   cmake -DEXPECT=N -P expect_exit.cmake -- PROGRAM [ARGS...]

if(NOT DEFINED EXPECT)
  message(FATAL_ERROR "expect_exit.cmake: -DEXPECT=N is required")
endif()

set(_cmd "")
set(_after_dashes OFF)
math(EXPR _last "${CMAKE_ARGC} - 1")
foreach(_i RANGE 1 ${_last})
  if(_after_dashes)
    list(APPEND _cmd "${CMAKE_ARGV${_i}}")
  elseif("${CMAKE_ARGV${_i}}" STREQUAL "--")
    set(_after_dashes ON)
  endif()
endforeach()
if(NOT _cmd)
  message(FATAL_ERROR "expect_exit.cmake: no program after --")
endif()

execute_process(COMMAND ${_cmd} RESULT_VARIABLE _rc)
if(NOT "${_rc}" STREQUAL "${EXPECT}")
  message(FATAL_ERROR "exit status ${_rc}, expected ${EXPECT}: ${_cmd}")
endif()
message(STATUS "exit status ${_rc}, as expected")
