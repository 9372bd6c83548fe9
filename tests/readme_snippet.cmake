# Fails when README.md does not quote examples/embedding/minimal.cpp verbatim.
file(READ "${README}" readme)
file(READ "${SNIPPET}" snippet)
string(FIND "${readme}" "${snippet}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md does not contain ${SNIPPET} verbatim; update the README's embedding example")
endif()
