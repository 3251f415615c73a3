package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/shared/serving/emf"
)

// trainingResourceGraph is one graph of the dashboard's training row: an EMF
// metric the trainer writes per epoch (shared/serving/emf, from
// shared/resources), one line per job.
type trainingResourceGraph struct {
	title, metric, axis string
}

// trainingResourceGraphs are the per-job resource metrics of issue 16
// item 6: CPU %, resident set, and on a GPU its utilisation and memory (a
// job without a GPU writes no GPU metric, so it has no line there).
var trainingResourceGraphs = []trainingResourceGraph{
	{"Training CPU (% of one core, per job)", emf.MetricCPUPercent, "%"},
	{"Training RSS (bytes, per job)", emf.MetricRSSBytes, "bytes"},
	{"Training GPU utilisation (%, per job)", emf.MetricGPUUtilization, "%"},
	{"Training GPU memory (bytes, per job)", emf.MetricGPUMemoryBytes, "bytes"},
}

// trainingSearch is the CloudWatch SEARCH expression of metric over every
// job: the job ids are not known when the dashboard is deployed, so the
// graph searches the namespace's JobId schema (CloudWatch User Guide,
// "Using search expressions in graphs").
func trainingSearch(metric string) string {
	return fmt.Sprintf(`SEARCH('{%s,%s} MetricName="%s"', 'Average', 60)`, emf.TrainingNamespace, emf.DimensionJobID, metric)
}

// trainingResourceWidgets returns the dashboard row of the training jobs'
// resource metrics, each graph as wide as a quarter of the dashboard.
func trainingResourceWidgets() []awscloudwatch.IWidget {
	var row []awscloudwatch.IWidget
	for _, g := range trainingResourceGraphs {
		expr := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(trainingSearch(g.metric)),
			Label:        jsii.String(""),
			Period:       awscdk.Duration_Minutes(jsii.Number(1)),
			UsingMetrics: &map[string]awscloudwatch.IMetric{},
		})
		row = append(row, awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(g.title), Left: &[]awscloudwatch.IMetric{expr}, Width: jsii.Number(6), Height: jsii.Number(6),
			LeftYAxis: &awscloudwatch.YAxisProps{Label: jsii.String(g.axis), Min: jsii.Number(0), ShowUnits: jsii.Bool(false)},
		}))
	}
	return row
}
