//! The harness itself: its SMTP server receives real mail.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::backend_tests;
use crate::support::smtp::SmtpServer;
use crate::support::TestApp;

backend_tests! {
    async fn smtp_server_receives_and_can_be_stopped(backend) {
        let _app = TestApp::spawn(backend).await;
        let mut smtp = SmtpServer::start();
        let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(smtp.port).build();
        let message = Message::builder()
            .from("Steward <steward@example.org>".parse().unwrap())
            .to("treasurer@example.org".parse().unwrap())
            .subject("Harness check")
            .header(ContentType::TEXT_PLAIN)
            .body("It arrived.".to_string())
            .unwrap();
        mailer.send(message.clone()).await.unwrap();
        let received = smtp.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].header("Subject").as_deref(), Some("Harness check"));
        assert!(received[0].raw.contains("It arrived."));

        smtp.stop();
        let refused = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(smtp.port).build();
        assert!(refused.send(message.clone()).await.is_err(), "a stopped server refuses");
        smtp.restart();
        let again = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(smtp.port).build();
        again.send(message).await.unwrap();
        assert_eq!(smtp.wait_for(2, Duration::from_secs(10)).await.len(), 2);
    }
}
