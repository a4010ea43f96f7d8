//! Plugboard on AWS: the capability backends over the AWS SDK (DynamoDB, SQS, Lambda, S3, SSM
//! and Secrets Manager) and the Lambda bootstrap that serves a function from them.

pub mod backends;
pub mod lambda;
