module profefe.example/hotapp

go 1.19
