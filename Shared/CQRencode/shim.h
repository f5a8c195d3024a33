// The system libqrencode (Debian libqrencode-dev), for the delegates' passes. Only the QRCode
// module imports it.
#ifndef CQRENCODE_SHIM_H
#define CQRENCODE_SHIM_H

#include <qrencode.h>

#endif
