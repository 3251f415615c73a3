package stacks

import (
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
)

// MonitoringStack holds the alert topic, the alarms and the dashboard.
type MonitoringStack struct {
	awscdk.Stack
	AlertTopic awssns.Topic
	// AlertQueue is subscribed to the alert topic in every environment: it keeps each notification 14 days, so an
	// alert is never lost for want of a subscriber, and any tool can read it.
	AlertQueue awssqs.Queue
	// Alarms by their physical name.
	Alarms    map[string]awscloudwatch.Alarm
	Dashboard awscloudwatch.Dashboard
}

// MonitoringProps are the monitoring stack's inputs: everything it watches.
type MonitoringProps struct {
	awscdk.StackProps
	Data     *DataStack
	Backbone *BackboneStack
	Pipeline *PipelineStack
	API      *APIStack
	Serving  *ServingStack
}

// NewMonitoringStack creates an encrypted, TLS-only alert topic that CloudWatch alarms of this environment may
// publish to, subscribed by the alert queue and, when configured, an e-mail address, and alarms that notify it
// on alarm and on recovery: failed and timed-out executions of each state machine, any message in a dead-letter
// queue, messages waiting too long in the main queues, errors and throttles of the backbone and api functions,
// API 5xx responses and p99 latency, predict errors and p99 duration on the live alias. The predict alarms are
// the ones a deployment watches while it bakes. The dashboard graphs the same, and a row of the training jobs'
// per-epoch resource metrics (CPU %, RSS, GPU utilisation and memory; shared/serving/emf), one line per job.
func NewMonitoringStack(scope awsconstructs.Construct, env Environment, props MonitoringProps) (*MonitoringStack, error) {
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"monitoring"), &props.StackProps)
	s := &MonitoringStack{Stack: stack, Alarms: map[string]awscloudwatch.Alarm{}}

	key := awskms.NewKey(stack, jsii.String("AlertKey"), &awskms.KeyProps{
		Alias:             jsii.String("alias/" + env.Prefix() + "alerts"),
		Description:       jsii.String("Encrypts Orrery's " + env.Name + " alert topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     env.RemovalPolicy,
	})
	// CloudWatch alarms publish to an encrypted topic only if the key lets CloudWatch use it.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), nil)
	s.AlertTopic = awssns.NewTopic(stack, jsii.String("Alerts"), &awssns.TopicProps{
		TopicName:   jsii.String(env.Prefix() + "alerts"),
		DisplayName: jsii.String("Orrery " + env.Name + " alerts"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// EnforceSSL's topic policy replaces SNS's default one, so it must itself let CloudWatch publish: for this
	// account's alarms of this environment only (SNS developer guide, "Amazon SNS access policy"; the
	// confused-deputy condition keys aws:SourceAccount and aws:SourceArn).
	s.AlertTopic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*s.AlertTopic.TopicArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			"ArnLike":      map[string]any{"aws:SourceArn": arn("cloudwatch", "alarm:"+env.Prefix()+"*")},
		},
	}))
	s.AlertQueue = awssqs.NewQueue(stack, jsii.String("AlertQueue"), &awssqs.QueueProps{
		QueueName:       jsii.String(env.Prefix() + "alerts"),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   env.RemovalPolicy,
	})
	if err := constructs.Suppress(s.AlertQueue, constructs.Suppression{
		Rule:   "AwsSolutions-SQS3",
		Reason: "The alert queue is the end of the line: it keeps the alert topic's notifications for people and tools to read, nothing consumes it, so a dead-letter queue would never receive anything.",
	}); err != nil {
		return nil, err
	}
	s.AlertTopic.AddSubscription(awssnssubscriptions.NewSqsSubscription(s.AlertQueue, nil))
	if env.AlertEmail != "" {
		s.AlertTopic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(env.AlertEmail), nil))
	}
	action := awscloudwatchactions.NewSnsAction(s.AlertTopic)
	alarm := func(id, name, description string, metric awscloudwatch.IMetric, threshold float64, periods int) awscloudwatch.Alarm {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(env.Prefix() + name),
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(float64(periods)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
		s.Alarms[env.Prefix()+name] = a
		return a
	}
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: fiveMinutes}
	p99 := &awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: fiveMinutes}
	maximum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1))}

	names := make([]string, 0, len(props.Pipeline.StateMachines))
	for n := range props.Pipeline.StateMachines {
		names = append(names, n)
	}
	sort.Strings(names)
	var executionMetrics []awscloudwatch.IMetric
	for _, n := range names {
		sm := props.Pipeline.StateMachines[n]
		id := tableID(Table(n))
		id = id[:len(id)-len("Table")]
		alarm(id+"ExecutionsFailed", n+"-executions-failed", "An execution of the "+n+" state machine failed",
			sm.MetricFailed(sum), 1, 1)
		alarm(id+"ExecutionsTimedOut", n+"-executions-timed-out", "An execution of the "+n+" state machine timed out",
			sm.MetricTimedOut(sum), 1, 1)
		executionMetrics = append(executionMetrics, sm.MetricStarted(sum), sm.MetricSucceeded(sum), sm.MetricFailed(sum))
	}

	dlqs := []struct {
		id, name string
		queue    awssqs.Queue
	}{
		{"IncomingDeadLetters", "incoming-dlq-not-empty", props.Data.Incoming.DeadLetter},
		{"StatusEventsDeadLetters", "status-events-dlq-not-empty", props.Backbone.StatusEvents.DeadLetter},
	}
	var dlqMetrics []awscloudwatch.IMetric
	for _, d := range dlqs {
		m := d.queue.MetricApproximateNumberOfMessagesVisible(maximum)
		alarm(d.id, d.name, "Messages are waiting in a dead-letter queue: inspect them and redrive or discard", m, 1, 1)
		dlqMetrics = append(dlqMetrics, m)
	}

	functions := []struct {
		id, short string
		fn        constructs.GoFunction
	}{
		{"Stages", "stages", props.Pipeline.Stages}, {"Trigger", "trigger", props.Pipeline.Trigger},
		{"Events", "events", props.Pipeline.Events}, {"ApiFunction", "api", props.API.Function},
	}
	var functionMetrics []awscloudwatch.IMetric
	for _, f := range functions {
		short := f.short
		errors := f.fn.Function.MetricErrors(sum)
		throttles := f.fn.Function.MetricThrottles(sum)
		alarm(f.id+"Errors", short+"-errors", "The "+short+" function returned errors (see its log group)", errors, 1, 1)
		alarm(f.id+"Throttles", short+"-throttles", "The "+short+" function was throttled: it reached its reserved concurrency", throttles, 1, 1)
		functionMetrics = append(functionMetrics, errors, throttles)
	}

	queues := []struct {
		id, name string
		queue    awssqs.Queue
		seconds  int
	}{
		// The trigger function drains incoming/ notifications in seconds; half an hour of waiting means it is
		// failing or throttled.
		{"IncomingAge", "incoming-oldest-message", props.Data.Incoming.Queue, 1800},
		{"StatusEventsAge", "status-events-oldest-message", props.Backbone.StatusEvents.Queue, 900},
	}
	for _, q := range queues {
		alarm(q.id, q.name, "A message has waited too long in a queue: its consumer is failing, throttled or disabled",
			q.queue.MetricApproximateAgeOfOldestMessage(maximum), float64(q.seconds), 5)
	}

	api := props.API.API
	alarm("Api5xx", "api-5xx", "The HTTP API answered with 5xx errors", api.MetricServerError(sum), 5, 1)
	alarm("ApiLatency", "api-latency-p99", "The HTTP API's p99 latency is above its target",
		api.MetricLatency(p99), float64(env.APILatencyP99Ms), 3)

	live := props.Serving.Live
	alarm("PredictErrors", "predict-errors", "The live predict alias returned errors", live.MetricErrors(sum), 1, 1)
	alarm("PredictLatency", "predict-latency-p99", "The live predict alias's p99 duration is above its target",
		live.MetricDuration(p99), float64(env.PredictLatencyP99Ms), 3)

	graph := func(title string, metrics []awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &metrics, Width: jsii.Number(12), Height: jsii.Number(6),
		})
	}
	trainingRow := trainingResourceWidgets()
	s.Dashboard = awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(env.Prefix() + "overview"),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{
				graph("State machine executions", executionMetrics),
				graph("Dead-letter queues (messages)", dlqMetrics),
			},
			{
				graph("API requests and errors", []awscloudwatch.IMetric{api.MetricCount(sum), api.MetricClientError(sum), api.MetricServerError(sum)}),
				graph("API latency p99 (ms)", []awscloudwatch.IMetric{api.MetricLatency(p99), api.MetricIntegrationLatency(p99)}),
			},
			{
				graph("Function errors and throttles", functionMetrics),
			},
			{
				graph("Predict (live) invocations and errors", []awscloudwatch.IMetric{live.MetricInvocations(sum), live.MetricErrors(sum), live.MetricThrottles(sum)}),
				graph("Predict (live) duration p99 (ms)", []awscloudwatch.IMetric{live.MetricDuration(p99)}),
			},
			&trainingRow,
		},
	})
	return s, nil
}
