# ratewardenConfig.cmake - find_package(ratewarden) for the C/C++ SDK
# (scripts/package.sh): imported targets over lib/ and include/ of the SDK
# this file sits in (relocatable: the SDK may be unpacked anywhere).
#
#   find_package(ratewarden 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE ratewarden::ratewarden)          # shared
#   target_link_libraries(app PRIVATE ratewarden::ratewarden_static)   # static
#
# ratewarden.h is C; ratewarden.hpp is the header-only C++17 wrapper.

include(CMakeFindDependencyMacro)
find_dependency(Threads)

get_filename_component(_ratewarden_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET ratewarden::ratewarden)
  add_library(ratewarden::ratewarden SHARED IMPORTED)
  set_target_properties(ratewarden::ratewarden PROPERTIES
    IMPORTED_LOCATION "${_ratewarden_prefix}/lib/libratewarden.so.0"
    IMPORTED_SONAME "libratewarden.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${_ratewarden_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads")
endif()

if(NOT TARGET ratewarden::ratewarden_static)
  add_library(ratewarden::ratewarden_static STATIC IMPORTED)
  set_target_properties(ratewarden::ratewarden_static PROPERTIES
    IMPORTED_LOCATION "${_ratewarden_prefix}/lib/libratewarden.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_ratewarden_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m")
endif()

unset(_ratewarden_prefix)
