module profefe.test/badtarget

go 1.19
