// original-coordinator serves the original CoordinatorService (SubmitTask, SendHeartbeat, UpdateTaskStatus,
// ListWorkers) and nothing else, in memory, built from the original contract only (original.proto). It
// prints one JSON line per call it receives and per connection that opens or closes, so a test can assert on
// what a peer sent. With -dispatch N it sends N tasks (random UUIDs, data -data) with WorkerService.SubmitTask
// to the first worker that sends a heartbeat, as the original coordinator dispatches, retrying a refused
// task after -retry. The server keeps grpc-go's default keepalive enforcement (a ping more often than every
// 5 minutes, or any ping without an active call, is a strike; the third earns GOAWAY too_many_pings).
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"

	pb "taskmaster.local/go-peers/grpcapi"
)

var stdout sync.Mutex

// emit writes one event as a JSON line.
func emit(event string, fields map[string]any) {
	fields["event"] = event
	fields["time_ms"] = time.Now().UnixMilli()
	line, _ := json.Marshal(fields)
	stdout.Lock()
	defer stdout.Unlock()
	fmt.Println(string(line))
}

func remote(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok {
		return p.Addr.String()
	}
	return ""
}

type coordinator struct {
	pb.UnimplementedCoordinatorServiceServer
	mu       sync.Mutex
	workers  map[uint32]string
	dispatch func(address string)
}

func (c *coordinator) SubmitTask(ctx context.Context, req *pb.ClientTaskRequest) (*pb.ClientTaskResponse, error) {
	id := newUUID()
	emit("submit_task", map[string]any{"data": req.GetData(), "task_id": id, "peer": remote(ctx)})
	return &pb.ClientTaskResponse{Message: "Task submitted successfully", TaskId: id}, nil
}

func (c *coordinator) SendHeartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	c.mu.Lock()
	_, known := c.workers[req.GetWorkerId()]
	c.workers[req.GetWorkerId()] = req.GetAddress()
	c.mu.Unlock()
	emit("heartbeat", map[string]any{"worker_id": req.GetWorkerId(), "address": req.GetAddress(), "peer": remote(ctx)})
	if !known && c.dispatch != nil {
		go c.dispatch(req.GetAddress())
	}
	return &pb.HeartbeatResponse{Acknowledged: true}, nil
}

func (c *coordinator) UpdateTaskStatus(ctx context.Context, req *pb.UpdateTaskStatusRequest) (*pb.UpdateTaskStatusResponse, error) {
	emit("update_task_status", map[string]any{
		"task_id": req.GetTaskId(), "status": req.GetStatus().String(), "started_at": req.GetStartedAt(),
		"completed_at": req.GetCompletedAt(), "failed_at": req.GetFailedAt(), "peer": remote(ctx),
	})
	return &pb.UpdateTaskStatusResponse{Success: true}, nil
}

func (c *coordinator) ListWorkers(ctx context.Context, _ *pb.ListWorkersRequest) (*pb.ListWorkersResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	response := &pb.ListWorkersResponse{}
	for id, address := range c.workers {
		response.Workers = append(response.Workers, &pb.WorkerInfo{WorkerId: id, Address: address})
	}
	emit("list_workers", map[string]any{"workers": len(response.Workers), "peer": remote(ctx)})
	return response, nil
}

// dispatcher returns the function that sends `count` tasks to the first worker that registers.
func dispatcher(count int, data string, retry time.Duration) func(address string) {
	var once sync.Once
	return func(address string) {
		once.Do(func() {
			conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				emit("dispatch_failed", map[string]any{"address": address, "error": err.Error()})
				return
			}
			client := pb.NewWorkerServiceClient(conn)
			for i := 0; i < count; i++ {
				id := newUUID()
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					resp, err := client.SubmitTask(ctx, &pb.TaskRequest{TaskId: id, Data: data})
					cancel()
					fields := map[string]any{"task_id": id, "address": address}
					if err != nil {
						fields["error"] = err.Error()
					} else {
						fields["success"] = resp.GetSuccess()
						fields["message"] = resp.GetMessage()
					}
					emit("dispatched", fields)
					if err == nil && resp.GetSuccess() {
						break
					}
					time.Sleep(retry)
				}
			}
			emit("dispatch_done", map[string]any{"count": count})
		})
	}
}

// connLogger reports every incoming connection, so a test sees a peer reconnect (after a GOAWAY, say).
type connLogger struct{}

type remoteKey struct{}

func (connLogger) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (connLogger) HandleRPC(context.Context, stats.RPCStats)                       {}
func (connLogger) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, remoteKey{}, info.RemoteAddr.String())
}
func (connLogger) HandleConn(ctx context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		emit("conn_begin", map[string]any{"peer": ctx.Value(remoteKey{})})
	case *stats.ConnEnd:
		emit("conn_end", map[string]any{"peer": ctx.Value(remoteKey{})})
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func main() {
	host := flag.String("host", "127.0.0.1", "interface to listen on")
	port := flag.Int("port", 0, "port to listen on; 0 = any free port")
	count := flag.Int("dispatch", 0, "send this many tasks to the first worker that registers")
	data := flag.String("data", "noop", "the data (command) of dispatched tasks")
	retry := flag.Duration("retry", 200*time.Millisecond, "wait before sending a refused task again")
	flag.Parse()

	// grpc-go's own warnings and errors (a GOAWAY sent for too many pings among them) go to stderr.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2WithVerbosity(nopWriter{}, os.Stderr, os.Stderr, 2))

	lis, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		emit("fatal", map[string]any{"error": err.Error()})
		os.Exit(1)
	}
	c := &coordinator{workers: map[uint32]string{}}
	if *count > 0 {
		c.dispatch = dispatcher(*count, *data, *retry)
	}
	server := grpc.NewServer(grpc.StatsHandler(connLogger{}))
	pb.RegisterCoordinatorServiceServer(server, c)
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		server.Stop()
	}()
	emit("listening", map[string]any{"port": lis.Addr().(*net.TCPAddr).Port})
	if err := server.Serve(lis); err != nil {
		emit("fatal", map[string]any{"error": err.Error()})
		os.Exit(1)
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
