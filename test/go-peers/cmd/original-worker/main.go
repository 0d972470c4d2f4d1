// original-worker behaves on the wire as the original TaskMaster worker does, built from the original
// contract only (original.proto): a random uint32 id; a heartbeat every 5 s carrying {workerId, address}
// and nothing else, stopped for good by the first heartbeat that fails; WorkerService.SubmitTask only; a
// queue of 100 tasks drained by 5 goroutines, each of which sends STARTED, works for the task duration and
// sends COMPLETE, each report from a new goroutine (so a COMPLETE can overtake its STARTED), with both time
// fields set to the current Unix second and no worker id or attempt. Every event is one JSON line on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "taskmaster.local/go-peers/grpcapi"
)

const (
	queueSize = 100
	poolSize  = 5
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

type worker struct {
	pb.UnimplementedWorkerServiceServer
	id          uint32
	address     string
	queue       chan *pb.TaskRequest
	coordinator pb.CoordinatorServiceClient
	work        time.Duration
}

func (w *worker) SubmitTask(_ context.Context, req *pb.TaskRequest) (*pb.TaskResponse, error) {
	emit("received", map[string]any{"task_id": req.GetTaskId(), "data": req.GetData()})
	w.queue <- req
	return &pb.TaskResponse{TaskId: req.GetTaskId(), Message: "Task was submitted", Success: true}, nil
}

func (w *worker) runSlot() {
	for task := range w.queue {
		go w.report(task, pb.TaskStatus_STARTED)
		time.Sleep(w.work)
		go w.report(task, pb.TaskStatus_COMPLETE)
	}
}

// report sends one status as the original does: no deadline, both times "now" in seconds.
func (w *worker) report(task *pb.TaskRequest, status pb.TaskStatus) {
	now := time.Now().Unix()
	_, err := w.coordinator.UpdateTaskStatus(context.Background(), &pb.UpdateTaskStatusRequest{
		TaskId: task.GetTaskId(), Status: status, StartedAt: now, CompletedAt: now,
	})
	fields := map[string]any{"task_id": task.GetTaskId(), "status": status.String(), "at": now}
	if err != nil {
		fields["error"] = err.Error()
	}
	emit("reported", fields)
}

func (w *worker) heartbeats(interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for range ticker.C {
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		_, err := w.coordinator.SendHeartbeat(ctx, &pb.HeartbeatRequest{WorkerId: w.id, Address: w.address})
		cancel()
		if err != nil {
			emit("heartbeat_failed", map[string]any{"error": err.Error()})
			return
		}
		emit("heartbeat", map[string]any{"worker_id": w.id})
	}
}

func main() {
	host := flag.String("host", "", "interface to listen on (\"\" = all, as the original; tests use ::1)")
	port := flag.Int("port", envInt("WORKER_PORT", 0), "port to listen on; 0 = any free port (env WORKER_PORT)")
	coordinator := flag.String("coordinator", envOr("COORDINATOR_ADDRESS", "localhost:8080"), "coordinator host:port (env COORDINATOR_ADDRESS)")
	advertise := flag.String("advertise", os.Getenv("WORKER_ADDRESS"), "host sent in heartbeats (env WORKER_ADDRESS); default: the listener's [::]:PORT")
	work := flag.Duration("task-duration", 5*time.Second, "how long each task takes")
	heartbeat := flag.Duration("heartbeat", 5*time.Second, "heartbeat interval")
	flag.Parse()

	lis, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		emit("fatal", map[string]any{"error": err.Error()})
		os.Exit(1)
	}
	bound := lis.Addr().(*net.TCPAddr).Port
	// The original advertises its listener's address, which is [::]:PORT when it listens on all interfaces.
	address := net.JoinHostPort("::", strconv.Itoa(bound))
	if *advertise != "" {
		address = net.JoinHostPort(*advertise, strconv.Itoa(bound))
	}
	conn, err := grpc.NewClient(*coordinator, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		emit("fatal", map[string]any{"error": err.Error()})
		os.Exit(1)
	}
	defer conn.Close()

	w := &worker{
		id:          rand.Uint32(),
		address:     address,
		queue:       make(chan *pb.TaskRequest, queueSize),
		coordinator: pb.NewCoordinatorServiceClient(conn),
		work:        *work,
	}
	server := grpc.NewServer()
	pb.RegisterWorkerServiceServer(server, w)
	for i := 0; i < poolSize; i++ {
		go w.runSlot()
	}
	go w.heartbeats(*heartbeat)
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		server.Stop()
	}()
	emit("listening", map[string]any{"worker_id": w.id, "port": bound, "address": address})
	if err := server.Serve(lis); err != nil {
		emit("fatal", map[string]any{"error": err.Error()})
		os.Exit(1)
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func envInt(name string, fallback int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return fallback
}
