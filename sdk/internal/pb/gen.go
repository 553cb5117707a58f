// Package pb holds the generated protobuf and gRPC code of the plugin protocol; it is internal to sdk.
package pb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative --go-vtproto_out=. --go-vtproto_opt=paths=source_relative,features=marshal+unmarshal+size+unmarshal_unsafe edge.proto balancer.proto
